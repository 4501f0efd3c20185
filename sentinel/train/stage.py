"""What every training stage shares: the base config, CPU/GPU defaults, metrics.jsonl, resume and atomic output.

A stage (sft, reward, dpo, task fine-tuning) only builds its dataset, its model and its TRL/transformers trainer;
`run_stage` does the rest the same way for all of them:

    .OUT.sentinel-lock        beside OUT while the run writes it: a second run into OUT is refused (`output_lock`)
    OUT/checkpoints/          trainer checkpoints and metrics.jsonl while the run is in progress (resume reads these;
                              each checkpoint also keeps metrics.jsonl and TRL's token count as they were at its step)
    OUT/                      on success, replaced atomically by the finished folder: model + tokenizer (safetensors),
                              metrics.jsonl, config.yaml, data_summary.json (and checkpoints/ if keep_checkpoints)

A crashed run therefore leaves OUT holding only `checkpoints/`, never a folder that looks finished; resume skips a
checkpoint saved only in part, and a write that fills the disk ends as an OSError naming the path (`disk_errors`).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._version import __version__
from ..config import coerce, fields_of, to_dict
from ..errors import ConfigError, DataError
from ..report.model_card import training_card
from ..utils import (
    atomic_directory,
    atomic_write_json,
    atomic_write_text,
    clear_interrupted_writes,
    disk_errors,
    folder_lock,
    set_seed,
)
from .hub import check_push, push_folder, repo_id_for

logger = logging.getLogger(__name__)

WORK_DIR = "checkpoints"
METRICS_FILE = "metrics.jsonl"
DEVICES = ("auto", "cpu", "cuda", "mps")


@dataclass
class TrainConfig:
    """Fields shared by every training stage. Each maps to a YAML key and a `--flag` of `sentinel train`."""

    model: str = field(default="", metadata={"help": "model folder (or hub name when online) to start from"})
    output_dir: str = field(default="", metadata={"help": "folder that receives the finished model, metrics.jsonl, "
                                                          "config.yaml and data_summary.json"})
    train_file: str = field(default="", metadata={"help": "training data: JSON/JSONL(.gz)/CSV/Parquet file or a "
                                                          "save_to_disk folder, in any format `sentinel data` reads"})
    eval_file: str | None = field(default=None, metadata={"help": "evaluation data in the same formats (optional)"})
    eval_fraction: float = field(default=0.0, metadata={
        "help": "without eval_file: share of the training rows held out for evaluation (0 = none)"})
    tokenizer: str | None = field(default=None, metadata={"help": "tokenizer folder when it differs from the model's"})
    max_rows: int | None = field(default=None, metadata={"help": "use at most this many training examples"})
    skip_invalid: bool = field(default=False, metadata={
        "help": "leave out invalid rows (counted in data_summary.json) instead of stopping at the first one"})
    seed: int = field(default=42, metadata={"help": "random seed for initialisation, shuffling and dropout"})
    learning_rate: float = field(default=5e-5, metadata={"help": "peak AdamW learning rate"})
    num_train_epochs: float = field(default=1.0, metadata={"help": "passes over the training data"})
    max_steps: int = field(default=-1, metadata={"help": "optimizer steps to run; overrides epochs when > 0"})
    per_device_train_batch_size: int = field(default=8, metadata={"help": "examples per device per step"})
    per_device_eval_batch_size: int = field(default=8, metadata={"help": "examples per device per eval step"})
    gradient_accumulation_steps: int = field(default=1, metadata={"help": "micro-batches per optimizer step"})
    sort_micro_batches: bool = field(default=False, metadata={
        "help": "order each optimizer step's examples by length before cutting them into its "
                "gradient_accumulation_steps micro-batches: less padding, the same examples per step (unlike "
                "transformers' group_by_length, which fills a step with examples of one length)"})
    warmup_ratio: float = field(default=0.0, metadata={"help": "share of steps with a linear learning-rate warmup"})
    weight_decay: float = field(default=0.0, metadata={"help": "AdamW weight decay"})
    lr_scheduler_type: str = field(default="linear", metadata={"help": "transformers scheduler name"})
    max_length: int = field(default=512, metadata={"help": "longest tokenized example (prompt + reply), in tokens"})
    logging_steps: int = field(default=10, metadata={"help": "write a metrics.jsonl line every this many steps"})
    save_steps: int = field(default=500, metadata={"help": "save a resumable checkpoint every this many steps"})
    save_total_limit: int | None = field(default=2, metadata={"help": "checkpoints to keep (oldest deleted)"})
    eval_steps: int | None = field(default=None, metadata={
        "help": "evaluate every this many steps (default: only at the end)"})
    resume: bool = field(default=False, metadata={
        "help": "continue from the last checkpoint in OUTPUT_DIR/checkpoints (starts fresh when there is none)"})
    keep_checkpoints: bool = field(default=False, metadata={
        "help": "keep OUTPUT_DIR/checkpoints after a successful run (default: deleted)"})
    quiet: bool = field(default=False, metadata={"help": "no progress bar"})
    device: str = field(default="auto", metadata={"help": "auto, cpu, cuda or mps"})
    dtype: str = field(default="auto", metadata={
        "help": "weights dtype when loading: auto (float32; bfloat16 master weights are never used), float32, "
                "bfloat16, float16"})
    bf16: bool | None = field(default=None, metadata={
        "help": "bf16 mixed precision (default: on for GPUs that support it, off on CPU)"})
    gradient_checkpointing: bool | None = field(default=None, metadata={
        "help": "recompute activations to save memory (default: on for GPU, off on CPU where models are tiny)"})
    lora_r: int = field(default=0, metadata={"help": "LoRA rank; 0 = full fine-tuning"})
    lora_alpha: int = field(default=16, metadata={"help": "LoRA scaling numerator (scale = alpha / r)"})
    lora_dropout: float = field(default=0.05, metadata={"help": "dropout on the LoRA branch"})
    lora_target_modules: list[str] = field(default_factory=lambda: ["all-linear"], metadata={
        "help": "module names to adapt (comma-separated on the command line); all-linear = every linear layer"})
    lora_merge: bool = field(default=True, metadata={
        "help": "merge LoRA adapters into the weights of the saved model (False: save the adapter only)"})
    allow_pickle: bool = field(default=False, metadata={"help": "allow loading pickled (.bin) weights"})
    trust_remote_code: bool = field(default=False, metadata={"help": "run modelling code shipped with the model"})
    report_to: list[str] = field(default_factory=list, metadata={
        "help": "experiment trackers to log to besides metrics.jsonl (always written): tensorboard, wandb, mlflow, "
                "... (transformers' report_to; the tracker's package must be installed, e.g. sentinel-rlhf[trackers] "
                "for tensorboard). TensorBoard event files go to OUTPUT_DIR/runs"})
    trainer_args: dict[str, Any] = field(default_factory=dict, metadata={
        "help": "extra TRL/transformers training arguments passed through as they are (e.g. deepspeed, fsdp, "
                "optim); YAML mapping or JSON on the command line"})
    push_to_hub: bool = field(default=False, metadata={
        "help": "after training, upload the finished folder (model, tokenizer, README.md model card, metrics) to the "
                "Hugging Face Hub repo hub_model_id; needs the Hub (a token from `hf auth login` or HF_TOKEN)"})
    hub_model_id: str | None = field(default=None, metadata={
        "help": "Hub repo for push_to_hub, e.g. user/name (default: the output folder's name under your account)"})
    hub_private_repo: bool | None = field(default=None, metadata={
        "help": "create the Hub repo private (default: the Hub's default for your account)"})

    def __post_init__(self) -> None:
        # Re-coerce every field so that configs built in Python get the same type checks as YAML/flags.
        for name, f in fields_of(type(self)).items():
            setattr(self, name, coerce(name, getattr(self, name), f.type))
        self.validate()

    def validate(self) -> None:
        """Range and existence checks; ConfigError naming the field. Stages extend this."""
        missing = [name for name in ("model", "output_dir", "train_file") if not getattr(self, name)]
        if missing:  # every missing field at once, not one per run
            more = f" (also missing: {', '.join(missing[1:])})" if missing[1:] else ""
            raise ConfigError(f"is required{more}", field=missing[0])
        for name in ("train_file", "eval_file"):
            path = getattr(self, name)
            if path and not Path(path).exists():
                raise ConfigError(f"data file not found: {path}", field=name)
        _positive(self, "learning_rate", "num_train_epochs", "per_device_train_batch_size",
                  "per_device_eval_batch_size", "gradient_accumulation_steps", "logging_steps", "save_steps",
                  "max_length", "lora_alpha")
        _at_least(self, 0, "weight_decay", "lora_r", "seed")
        if self.max_steps == 0 or self.max_steps < -1:
            raise ConfigError(f"got {self.max_steps}; expected a positive number of steps, or -1 for epochs",
                              field="max_steps")
        for name in ("max_rows", "eval_steps", "save_total_limit"):
            v = getattr(self, name)
            if v is not None and v <= 0:
                raise ConfigError(f"got {v}; expected a positive integer or none", field=name)
        _fraction(self, "eval_fraction", "warmup_ratio", "lora_dropout")
        if self.eval_fraction and self.eval_file:
            raise ConfigError("give either eval_file or eval_fraction, not both", field="eval_fraction")
        if self.device not in DEVICES and not self.device.startswith("cuda:"):
            raise ConfigError(f"got {self.device!r}; expected one of {', '.join(DEVICES)} or cuda:N", field="device")
        if self.dtype not in ("auto", "float32", "bfloat16", "float16"):
            raise ConfigError(f"got {self.dtype!r}; expected auto, float32, bfloat16 or float16", field="dtype")
        if self.lora_r and not self.lora_target_modules:
            raise ConfigError("LoRA needs at least one target module", field="lora_target_modules")


def _positive(cfg, *names: str) -> None:
    for name in names:
        v = getattr(cfg, name)
        if v is None or v <= 0:
            raise ConfigError(f"got {v}; expected a number > 0", field=name)


def _at_least(cfg, low: float, *names: str) -> None:
    for name in names:
        v = getattr(cfg, name)
        if v < low:
            raise ConfigError(f"got {v}; expected a number >= {low}", field=name)


def _fraction(cfg, *names: str) -> None:
    for name in names:
        v = getattr(cfg, name)
        if not 0 <= v < 1:
            raise ConfigError(f"got {v}; expected a number in [0, 1)", field=name)


@dataclass
class TrainResult:
    """What a finished stage returns: where the model is and the last logged metrics (TRL names)."""

    output_dir: Path
    metrics: dict[str, float]
    global_step: int
    data_summary: dict[str, Any]

    @property
    def metrics_file(self) -> Path:
        return self.output_dir / METRICS_FILE


# ----------------------------------------------------------------------------------------------- devices / args


def on_gpu(cfg: TrainConfig) -> bool:
    """Whether this run trains on a CUDA device."""
    import torch

    if cfg.device == "cpu" or cfg.device == "mps":
        return False
    return torch.cuda.is_available()


def load_dtype(cfg: TrainConfig) -> str:
    """Weights are loaded in float32 unless asked otherwise: bf16 mixed precision keeps float32 master weights."""
    return "float32" if cfg.dtype == "auto" else cfg.dtype


def _checkpointing_arg() -> str:
    """transformers renamed `gradient_checkpointing` to `activation_checkpointing` (the old name warns); use the
    name the installed version has, so every 5.x in our range works without a FutureWarning."""
    import dataclasses

    from transformers import TrainingArguments

    names = {f.name for f in dataclasses.fields(TrainingArguments)}
    return "activation_checkpointing" if "activation_checkpointing" in names else "gradient_checkpointing"


def training_kwargs(cfg: TrainConfig) -> dict[str, Any]:
    """Keyword arguments shared by every TRL/transformers config built from `cfg` (CPU or GPU defaults)."""
    import torch

    gpu = on_gpu(cfg)
    bf16 = cfg.bf16 if cfg.bf16 is not None else bool(gpu and torch.cuda.is_bf16_supported())
    if bf16 and not gpu:
        logger.warning("bf16 on CPU is slow and often unsupported; training anyway because bf16=true was asked")
    kw: dict[str, Any] = dict(
        output_dir=str(Path(cfg.output_dir) / WORK_DIR),
        seed=cfg.seed,
        data_seed=cfg.seed,
        learning_rate=cfg.learning_rate,
        num_train_epochs=cfg.num_train_epochs,
        max_steps=cfg.max_steps,
        per_device_train_batch_size=cfg.per_device_train_batch_size,
        per_device_eval_batch_size=cfg.per_device_eval_batch_size,
        gradient_accumulation_steps=cfg.gradient_accumulation_steps,
        warmup_steps=cfg.warmup_ratio,  # transformers 5: a float in [0, 1) is a ratio of total steps
        weight_decay=cfg.weight_decay,
        lr_scheduler_type=cfg.lr_scheduler_type,
        logging_steps=cfg.logging_steps,
        logging_first_step=True,
        save_strategy="steps",
        save_steps=cfg.save_steps,
        save_total_limit=cfg.save_total_limit,
        # Trainer also writes .safetensors checkpoints; optimizer state stays in torch's format (trusted: our own).
        save_only_model=False,
        report_to=[r for r in cfg.report_to if r != "none"] or "none",
        disable_tqdm=cfg.quiet,
        use_cpu=not gpu and cfg.device != "mps",
        bf16=bf16,
        fp16=False,
        **{_checkpointing_arg(): cfg.gradient_checkpointing if cfg.gradient_checkpointing is not None else gpu},
        dataloader_pin_memory=gpu,
        remove_unused_columns=True,
    )
    if cfg.eval_file or cfg.eval_fraction:
        kw.update(eval_strategy="steps" if cfg.eval_steps else "no", eval_steps=cfg.eval_steps)
    kw.update(cfg.trainer_args)
    return kw


def peft_config(cfg: TrainConfig, task_type: str):
    """A PEFT LoraConfig when `lora_r > 0`, else None. `task_type`: CAUSAL_LM, SEQ_CLS, TOKEN_CLS, QUESTION_ANS."""
    if not cfg.lora_r:
        return None
    try:
        from peft import LoraConfig
    except ImportError:  # pragma: no cover
        from ..errors import MissingDependencyError

        raise MissingDependencyError("peft", "train", "LoRA") from None
    targets = cfg.lora_target_modules
    return LoraConfig(
        r=cfg.lora_r, lora_alpha=cfg.lora_alpha, lora_dropout=cfg.lora_dropout, task_type=task_type,
        target_modules=targets[0] if targets == ["all-linear"] else list(targets),
    )


# ------------------------------------------------------------------------------------------------ metrics.jsonl


def _metrics_callback_cls():
    from transformers import TrainerCallback

    class MetricsCallback(TrainerCallback):
        """Appends one JSON line per logging step to `metrics.jsonl` (TRL's metric names plus `step` and `epoch`).

        On resume, lines after the checkpoint's step are dropped first: those steps are trained again, so each
        step appears exactly once in the file.
        """

        def __init__(self, path: str | Path):
            self.path = Path(path)

        def on_train_begin(self, args, state, control, **kwargs):
            if state.is_world_process_zero:
                truncate_metrics(self.path, state.global_step)

        def on_log(self, args, state, control, logs=None, **kwargs):
            if not state.is_world_process_zero or not logs:
                return
            row = {"step": state.global_step, "epoch": round(state.epoch or 0.0, 4)}
            row.update({k: _plain(v) for k, v in logs.items() if k != "epoch"})
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as f:
                f.write(json.dumps(row) + "\n")

    return MetricsCallback


RUN_STATE_FILE = "sentinel_run_state.json"


def _run_state_callback_cls():
    from transformers import TrainerCallback

    class RunStateCallback(TrainerCallback):
        """Saves into each checkpoint what Trainer's checkpoint lacks: metrics.jsonl as it is at that step (the rows
        logged after it, a final evaluation included, are dropped on resume) and TRL's running `num_tokens` count."""

        def __init__(self, trainer, metrics: Path):
            self.trainer, self.metrics = trainer, metrics

        def on_save(self, args, state, control, **kwargs):
            if not state.is_world_process_zero:
                return
            folder = Path(args.output_dir) / f"checkpoint-{state.global_step}"
            if not folder.is_dir():
                return
            if self.metrics.exists():
                atomic_write_text(folder / METRICS_FILE, self.metrics.read_text(encoding="utf-8"))
            atomic_write_json(folder / RUN_STATE_FILE,
                              {"total_train_tokens": getattr(self.trainer, "_total_train_tokens", None)})

    return RunStateCallback


def restore_run_state(trainer: Any, ckpt: Path, metrics: Path) -> None:
    """Put back what `RunStateCallback` saved in checkpoint `ckpt` (checkpoints without it are left as they are:
    metrics.jsonl is then cut at the checkpoint's step by MetricsCallback)."""
    if (ckpt / METRICS_FILE).is_file() and _is_main_process():  # the file only the main process writes
        atomic_write_text(metrics, (ckpt / METRICS_FILE).read_text(encoding="utf-8"))
    try:
        saved = json.loads((ckpt / RUN_STATE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return
    if saved.get("total_train_tokens") is not None and hasattr(trainer, "_total_train_tokens"):
        trainer._total_train_tokens = saved["total_train_tokens"]


class _AlreadyFinished(Exception):
    """Raised by the callback of `_stop_past_the_end_cls` to leave `Trainer.train` before a step past the end."""


def _stop_past_the_end_cls():
    from transformers import TrainerCallback

    class StopPastTheEnd(TrainerCallback):
        """Stops a run resumed from the checkpoint of its last step (killed, or out of disk space, during the final
        save) before it trains: Trainer (transformers 5.x) would run one step more than `max_steps` first."""

        def on_step_begin(self, args, state, control, **kwargs):
            if state.max_steps and state.global_step >= state.max_steps:
                raise _AlreadyFinished()

    return StopPastTheEnd


def _plain(v: Any) -> Any:
    return v.item() if hasattr(v, "item") else v


def truncate_metrics(path: Path, step: int) -> None:
    """Keep only the lines of `path` logged at or before `step` (all lines are dropped when step is 0)."""
    if not path.exists():
        return
    keep = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            if step and json.loads(line).get("step", 0) <= step:
                keep.append(line)
        except json.JSONDecodeError:  # a line cut short by a crash
            continue
    atomic_write_text(path, "".join(x + "\n" for x in keep))


def read_metrics(path: str | Path) -> list[dict[str, Any]]:
    """The rows of a metrics.jsonl file."""
    return [json.loads(x) for x in Path(path).read_text(encoding="utf-8").splitlines() if x.strip()]


def last_metrics(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The most recent value of every metric over the rows (train and eval rows merged)."""
    out: dict[str, Any] = {}
    for r in rows:
        out.update(r)
    return out


# ------------------------------------------------------------------------------------------------------ data


def split_eval(examples: list, cfg: TrainConfig) -> tuple[list, list]:
    """Hold out `eval_fraction` of `examples` (seeded shuffle) when no eval_file is given."""
    if not cfg.eval_fraction:
        return examples, []
    import random

    order = list(range(len(examples)))
    random.Random(cfg.seed).shuffle(order)
    n_eval = max(1, int(round(len(examples) * cfg.eval_fraction)))
    if n_eval >= len(examples):
        raise DataError(f"eval_fraction {cfg.eval_fraction} leaves no training rows out of {len(examples)}")
    held = set(order[:n_eval])
    return [e for i, e in enumerate(examples) if i not in held], [examples[i] for i in sorted(held)]


def require_rows(n: int, cfg: TrainConfig, why: str) -> None:
    """Fail before training when no usable example is left, saying why."""
    if n == 0:
        raise DataError(f"no usable training examples: {why}", path=cfg.train_file)


def cap_and_split(examples: list, cfg: TrainConfig, summary: dict[str, Any]) -> tuple[list, list]:
    """Apply `max_rows` (counting what it leaves out in `summary["train"]`), fail when nothing is usable, then
    hold out the eval split; returns (train, held-out)."""
    if cfg.max_rows is not None and len(examples) > cfg.max_rows:
        summary["train"]["rows_not_used_max_rows"] = len(examples) - cfg.max_rows
        examples = examples[: cfg.max_rows]
    require_rows(len(examples), cfg, "every row was invalid or skipped")
    return split_eval(examples, cfg)


# ------------------------------------------------------------------------------------------------------- run


def last_checkpoint(cfg: TrainConfig) -> str | None:
    """The newest complete `checkpoint-N` folder under OUTPUT_DIR/checkpoints, or None.

    Trainer writes a checkpoint in place and its `trainer_state.json` last, so a run killed (or out of disk space)
    while saving leaves a newer folder without a readable state: that one is not resumable and is skipped."""
    from transformers.trainer import TRAINER_STATE_NAME
    from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR

    work = Path(cfg.output_dir) / WORK_DIR
    if not work.is_dir():
        return None
    found = []
    for p in work.glob(f"{PREFIX_CHECKPOINT_DIR}-*"):
        step = p.name.removeprefix(f"{PREFIX_CHECKPOINT_DIR}-")
        if p.is_dir() and step.isdigit():
            found.append((int(step), p))
    for _, p in sorted(found, reverse=True):
        try:
            json.loads((p / TRAINER_STATE_NAME).read_text(encoding="utf-8"))
            return str(p)
        except (OSError, ValueError):
            logger.warning("resume: %s was not saved completely (killed or out of disk space while saving); "
                           "skipping it", p)
    return None


def _drop_unfinished_checkpoints(work: Path, keep: str | None) -> None:
    """Remove the checkpoint folders newer than `keep` (the one resumed from): they were not saved completely, and
    Trainer would otherwise count them when it rotates checkpoints."""
    from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR

    step = int(Path(keep).name.removeprefix(f"{PREFIX_CHECKPOINT_DIR}-")) if keep else -1
    for p in work.glob(f"{PREFIX_CHECKPOINT_DIR}-*"):
        n = p.name.removeprefix(f"{PREFIX_CHECKPOINT_DIR}-")
        if p.is_dir() and n.isdigit() and int(n) > step:
            shutil.rmtree(p)


def prepare_output(cfg: TrainConfig) -> str | None:
    """Set up OUTPUT_DIR/checkpoints; returns the checkpoint to resume from (None = fresh start)."""
    work = Path(cfg.output_dir) / WORK_DIR
    if _is_main_process():
        clear_interrupted_writes(Path(cfg.output_dir))
    ckpt = last_checkpoint(cfg) if cfg.resume else None
    if cfg.resume and ckpt is None:
        logger.warning("resume: no checkpoint under %s; starting from the beginning", work)
    if ckpt is None and work.exists() and _is_main_process():
        shutil.rmtree(work)  # stale state from an earlier run must not leak into a fresh one
    elif ckpt is not None and _is_main_process():
        _drop_unfinished_checkpoints(work, ckpt)
    _wait_for_everyone()
    work.mkdir(parents=True, exist_ok=True)
    return ckpt


def output_lock(folder: str | Path, main_process: bool | None = None) -> AbstractContextManager[Any]:
    """Hold the output folder of a run (`folder_lock`): a second run writing there is refused with
    `FolderBusyError`. Only the main process holds it (`main_process`; default: RANK 0), so the processes of one
    distributed run do not refuse each other."""
    main = _is_main_process() if main_process is None else main_process
    return folder_lock(folder) if main else nullcontext()


def _is_main_process() -> bool:
    return int(os.environ.get("RANK", "0")) == 0


def _wait_for_everyone() -> None:
    try:
        import torch.distributed as dist

        if dist.is_available() and dist.is_initialized():
            dist.barrier()
    except ImportError:  # pragma: no cover
        pass


def quiet_mode(cfg: TrainConfig) -> None:
    """With `quiet`, silence the progress bars of datasets and transformers (the training bar via disable_tqdm)."""
    if not cfg.quiet:
        return
    import datasets
    import transformers

    datasets.disable_progress_bars()
    transformers.utils.logging.disable_progress_bar()


def run_stage(
    cfg: TrainConfig,
    build_trainer: Callable[[], Any],
    data_summary: dict[str, Any],
    *,
    save_extra: Callable[[Any, Path], None] | None = None,
    evaluate: Callable[[Any], dict[str, float]] | None = None,
    callbacks: list | None = None,
    trainer_eval: bool = True,
) -> TrainResult:
    """Train with the trainer `build_trainer()` returns and write the finished folder atomically.

    `evaluate(trainer) -> metrics` adds stage-specific final metrics (logged to metrics.jsonl too);
    `save_extra(trainer, folder)` writes stage-specific files into the finished folder. `trainer_eval=False`
    skips the trainer's own final evaluation (when `evaluate` already covers the eval set).
    """
    check_push(cfg.push_to_hub, cfg.hub_model_id)  # before hours of training, not after
    with output_lock(cfg.output_dir):
        return _train_and_save(cfg, build_trainer, data_summary, save_extra, evaluate, callbacks, trainer_eval)


def _train_and_save(cfg, build_trainer, data_summary, save_extra, evaluate, callbacks, trainer_eval) -> TrainResult:
    set_seed(cfg.seed)
    ckpt = prepare_output(cfg)
    work = Path(cfg.output_dir) / WORK_DIR
    trainer = build_trainer()
    if cfg.sort_micro_batches:
        from .batching import sort_micro_batches

        sort_micro_batches(trainer)
    trainer.add_callback(_metrics_callback_cls()(work / METRICS_FILE))
    trainer.add_callback(_run_state_callback_cls()(trainer, work / METRICS_FILE))
    if cfg.quiet:
        from transformers import PrinterCallback

        trainer.remove_callback(PrinterCallback)  # with the bar disabled, Trainer would print every log dict
    for cb in callbacks or []:
        trainer.add_callback(cb)
    if ckpt:
        logger.info("resuming from %s", ckpt)
        restore_run_state(trainer, Path(ckpt), work / METRICS_FILE)
        trainer.add_callback(_stop_past_the_end_cls()())
    try:
        with disk_errors(work):  # a full disk while saving a checkpoint: one line naming the folder, earlier ones stay
            trainer.train(resume_from_checkpoint=ckpt)
    except _AlreadyFinished:
        logger.info("resume: %s holds the run's last step; writing its model", ckpt)
    final: dict[str, float] = {}
    if trainer_eval and trainer.eval_dataset is not None:
        final.update(trainer.evaluate())
    if evaluate is not None:
        extra = evaluate(trainer)
        if extra:
            trainer.log(extra)
            final.update(extra)
    trainer.accelerator.wait_for_everyone()
    out = Path(cfg.output_dir)
    acc = trainer.accelerator
    data_summary["processes"] = acc.num_processes
    data_summary["examples_per_step"] = (cfg.per_device_train_batch_size * cfg.gradient_accumulation_steps
                                         * acc.num_processes)
    rows = read_metrics(work / METRICS_FILE) if (work / METRICS_FILE).exists() else []
    metrics = {k: v for k, v in last_metrics(rows).items() if isinstance(v, (int, float))}
    metrics.update({k: v for k, v in final.items() if isinstance(v, (int, float))})
    if trainer.accelerator.is_main_process:
        _write_final(cfg, trainer, data_summary, save_extra, metrics)
        if cfg.push_to_hub:
            push_folder(out, repo_id_for(cfg.hub_model_id, cfg.output_dir), cfg.hub_private_repo)
    trainer.accelerator.wait_for_everyone()
    return TrainResult(out, metrics, trainer.state.global_step, data_summary)


def _write_final(cfg, trainer, data_summary, save_extra, metrics) -> None:
    out = Path(cfg.output_dir)
    work = out / WORK_DIR
    model = trainer.accelerator.unwrap_model(trainer.model)
    if cfg.lora_r and cfg.lora_merge and hasattr(model, "merge_and_unload"):
        model = model.merge_and_unload()
    with disk_errors(out), atomic_directory(out) as tmp:
        model.save_pretrained(tmp, safe_serialization=True)
        trainer.processing_class.save_pretrained(tmp)
        if (work / METRICS_FILE).exists():
            shutil.copy2(work / METRICS_FILE, tmp / METRICS_FILE)
        if (work / "runs").is_dir():  # TensorBoard event files (report_to); the checkpoints folder may go
            shutil.copytree(work / "runs", tmp / "runs")
        atomic_write_text(tmp / "config.yaml", config_yaml(cfg))
        atomic_write_json(tmp / "data_summary.json", data_summary)
        atomic_write_text(tmp / "README.md", training_card(
            stage=stage_name(cfg), output_dir=cfg.output_dir, base_model=cfg.model, data=data_summary,
            metrics=metrics, config=to_dict(cfg), version=__version__))
        if save_extra is not None:
            save_extra(trainer, tmp)
        if cfg.keep_checkpoints and work.exists():
            shutil.move(str(work), tmp / WORK_DIR)
    logger.info("model written to %s", out)


def stage_name(cfg: Any) -> str:
    """`sft` for SFTConfig, `grpo` for GRPOConfig, ...: the `sentinel train` command that runs the config."""
    return type(cfg).__name__.removesuffix("Config").lower()


def config_yaml(cfg: TrainConfig) -> str:
    import yaml

    return f"# {type(cfg).__name__} resolved by sentinel\n" + yaml.safe_dump(to_dict(cfg), sort_keys=False)


def load_policy(cfg: TrainConfig, model: Any = None, tokenizer: Any = None):
    """(model, tokenizer) of a causal-LM stage: loaded from `cfg.model` unless `model` is given in memory, in which
    case its tokenizer must be given too (`cfg.model` then only labels the run)."""
    from ..models import load_causal_lm

    if model is None:
        return load_causal_lm(cfg.model, tokenizer=tokenizer or cfg.tokenizer, device="cpu", dtype=load_dtype(cfg),
                              allow_pickle=cfg.allow_pickle, trust_remote_code=cfg.trust_remote_code)
    if tokenizer is None:
        raise ConfigError("give the tokenizer with an in-memory model", field="tokenizer")
    return model, tokenizer
