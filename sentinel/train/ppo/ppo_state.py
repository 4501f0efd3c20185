"""What a resumable PPO checkpoint holds besides the model, and how it is read back, without pickle.

    checkpoint-last/
        config.json, model.safetensors, tokenizer files,   the policy (LoRA merged in), loadable as a model, and
        value_head.safetensors                              its value head: what `save_model` writes
        trainer_state.json      format, step, the config, AdamW's param_groups and, per process, the history, the
                                KL coefficient, the score moments, the prompt order and its shard's fingerprint,
                                and the Python and NumPy RNG states
        trainable.safetensors   every trainable parameter by name (with LoRA: the adapters, not the merged model)
        optimizer.safetensors   AdamW's per-parameter state (step, exp_avg, exp_avg_sq)
        rng_state.safetensors   per process: torch's CPU generator, the CUDA generator of its device, and the
                                trainer's own generator (prompt order and mini-batch shuffles)

Why the trainable weights twice (also in model.safetensors with full fine-tuning): the merged model cannot give
LoRA adapters back, and reading the policy's parameters by their own names needs no mapping from the saved model's
names (tied weights, PEFT prefixes). AdamW's two moments already take twice that space.

Why no torch.save: a pickle file runs code when it is loaded, and checkpoint folders get copied between machines
and people. Every piece of the state is a tensor or a JSON value, so nothing here needs pickle.
"""

from __future__ import annotations

import glob
import hashlib
import json
import random
import shutil
from pathlib import Path
from typing import Any

import torch

from ...errors import ConfigError, DataError

STATE_FILE = "trainer_state.json"
TRAINABLE_FILE = "trainable.safetensors"
OPTIMIZER_FILE = "optimizer.safetensors"
RNG_FILE = "rng_state.safetensors"
STATE_FORMAT = 1
CHECKPOINT = "checkpoint-last"

# Fields a resumed run may set differently, and why each cannot change the numbers: `resume` itself; `steps`, to
# train further (PPO's learning rate is constant, so nothing depends on the planned length); `output_dir`, for a
# run folder that was moved; the tracker and Hub fields, which act beside or after training; the loading permissions
# (`allow_pickle`, `trust_remote_code`), which decide whether a model loads, not what it computes. Any other change
# (a learning rate, a seed, the batch size, the device) would make the resumed run a different run.
MAY_CHANGE_ON_RESUME = ("resume", "max_steps", "output_dir", "report_to", "push_to_hub", "hub_model_id",
                        "hub_private_repo", "allow_pickle", "trust_remote_code")


def check_config(saved: dict[str, Any], now: dict[str, Any], defaults: dict[str, Any], where: Path) -> None:
    """Raise ConfigError naming the first field of `now` (in declaration order) that differs from `saved`, the
    config the checkpoint in `where` was written with. A field missing from `saved` (a checkpoint from an older
    version) counts as its default."""
    now = json.loads(json.dumps(now))  # tuples become lists, as they were saved
    for name, value in now.items():
        if name in MAY_CHANGE_ON_RESUME:
            continue
        before = saved.get(name, defaults.get(name))
        if before != value:
            raise ConfigError(
                f"is {value!r} but the run in {where} was started with {before!r}; resume with the same setting, "
                f"or start a new run without resume (a resume may change only {', '.join(MAY_CHANGE_ON_RESUME)})",
                field=name)


def fingerprint(prompts: list[Any]) -> str:
    """A short identity of a prompt list (count and content), so a resumed run can tell it was given other prompts:
    the saved prompt order indexes into this list."""
    data = json.dumps(prompts, sort_keys=True, ensure_ascii=False,
                      default=lambda x: x.tolist() if isinstance(x, torch.Tensor) else str(x))
    return f"{len(prompts)}:{hashlib.sha256(data.encode('utf-8')).hexdigest()[:16]}"


def read_state(path: Path) -> dict[str, Any]:
    """trainer_state.json of the checkpoint folder `path`; DataError when it is missing, unreadable or of another
    format."""
    file = path / STATE_FILE
    if not file.is_file():
        raise DataError(f"no {STATE_FILE}: this folder holds a model, not a resumable PPO checkpoint (save_steps "
                        "writes one; checkpoints written before PPO could resume hold only the model)", path=str(path))
    try:
        state = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        raise DataError(f"unreadable: {e}", path=str(file)) from None
    if not isinstance(state, dict) or state.get("format") != STATE_FORMAT:
        raise DataError(f"expected a PPO trainer state of format {STATE_FORMAT}", path=str(file))
    return state


def checkpoint_step(path: Path) -> int | None:
    """The step of the resumable checkpoint in `path`, or None when `path` holds none (or an unreadable one)."""
    try:
        return int(read_state(path)["step"])
    except (DataError, KeyError, TypeError, ValueError):
        return None


def find_checkpoint(out: Path) -> Path | None:
    """The resumable checkpoint of the run in `out`: OUT/checkpoint-last, else the copy `atomic_directory` keeps
    while it swaps a new checkpoint in (OUT/.checkpoint-last.old, there only when a kill fell between the two
    renames). None when there is neither."""
    for candidate in (out / CHECKPOINT, out / f".{CHECKPOINT}.old"):
        if checkpoint_step(candidate) is not None:
            return candidate
    return None


def recover_interrupted_save(out: Path) -> None:
    """Put back into `out` the checkpoint and metrics that a final save killed midway left beside it.

    The final save builds the finished folder as a sibling (`.OUT.<random>.partial`, by `atomic_directory`), moves
    the run's checkpoint-last and metrics.jsonl into it, then swaps it in with two renames (OUT -> `.OUT.old`, the
    sibling -> OUT). A kill between those steps leaves them in a sibling; the one with the newest checkpoint is
    moved back and the siblings are removed. Nothing happens when OUT already has its checkpoint."""
    if find_checkpoint(out) is not None:
        return
    siblings = [*out.parent.glob(f".{glob.escape(out.name)}.*.partial"), out.parent / f".{out.name}.old"]
    found = [(step, s) for s in siblings if (step := checkpoint_step(s / CHECKPOINT)) is not None]
    if not found:
        return
    _, source = max(found, key=lambda x: x[0])
    out.mkdir(parents=True, exist_ok=True)
    for name in (CHECKPOINT, "metrics.jsonl"):
        if (source / name).exists() and not (out / name).exists():
            (source / name).rename(out / name)
    for s in siblings:
        shutil.rmtree(s, ignore_errors=True)


# ----------------------------------------------------------------------------------------------- optimiser


def split_optimizer(state: dict[str, Any]) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """A torch optimiser state_dict as (tensors for safetensors, the rest as JSON).

    Tensors are keyed `state.<param index>.<name>`; param_groups keep their values (tuples become lists)."""
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, dict[str, Any]] = {}
    for index, entries in state["state"].items():
        for name, v in entries.items():
            if isinstance(v, torch.Tensor):
                tensors[f"state.{index}.{name}"] = v.detach().cpu().contiguous()
            else:
                scalars.setdefault(str(index), {})[name] = v
    groups = [{k: list(v) if isinstance(v, tuple) else v for k, v in g.items()} for g in state["param_groups"]]
    return tensors, {"param_groups": groups, "scalars": scalars}


def join_optimizer(tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> dict[str, Any]:
    """The inverse of `split_optimizer`: a state_dict for `optimizer.load_state_dict`."""
    state: dict[int, dict[str, Any]] = {}
    for key, t in tensors.items():
        _, index, name = key.split(".", 2)
        state.setdefault(int(index), {})[name] = t
    for index, entries in meta["scalars"].items():
        state.setdefault(int(index), {}).update(entries)
    groups = [{k: tuple(v) if k == "betas" else v for k, v in g.items()} for g in meta["param_groups"]]
    return {"state": state, "param_groups": groups}


# ----------------------------------------------------------------------------------------------------- RNG


def rng_state(generator: torch.Generator, device: torch.device) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """This process's random-number generators: (tensors, JSON values).

    torch's global CPU generator (the sampler draws from it on CPU), the CUDA generator of `device` (it draws from
    that on a GPU), `generator` (the trainer's prompt order and mini-batch shuffles), and Python's and NumPy's
    global generators (reward functions may draw from them)."""
    tensors = {"torch": torch.get_rng_state(), "generator": generator.get_state()}
    if device.type == "cuda":
        tensors["cuda"] = torch.cuda.get_rng_state(device)
    version, words, gauss = random.getstate()
    values: dict[str, Any] = {"python": [version, list(words), gauss]}
    try:
        import numpy as np

        name, keys, pos, has_gauss, cached = np.random.get_state(legacy=True)  # the legacy form is a tuple
        values["numpy"] = [str(name), np.asarray(keys).tolist(), int(pos), int(has_gauss), float(cached)]
    except ImportError:  # pragma: no cover
        pass
    return tensors, values


def set_rng_state(tensors: dict[str, torch.Tensor], values: dict[str, Any], generator: torch.Generator,
                  device: torch.device) -> None:
    """Restore what `rng_state` returned."""
    torch.set_rng_state(tensors["torch"])
    generator.set_state(tensors["generator"])
    if device.type == "cuda" and "cuda" in tensors:
        torch.cuda.set_rng_state(tensors["cuda"], device)
    version, words, gauss = values["python"]
    random.setstate((version, tuple(words), gauss))
    if "numpy" in values:
        import numpy as np

        name, keys, pos, has_gauss, cached = values["numpy"]
        np.random.set_state((name, np.asarray(keys, dtype=np.uint32), pos, has_gauss, cached))
