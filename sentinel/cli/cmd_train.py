"""`sentinel train sft|reward|dpo|grpo|rloo|domain --config FILE.yaml [--field value ...]`.

The YAML file maps one to one onto the stage's config dataclass; every field is also a flag that overrides it.
Runs under `accelerate launch` unchanged (DDP, DeepSpeed and FSDP settings go through `trainer_args`).
GRPO and RLOO runs are watched by `SentinelCallback` (the training checks every `--guard-every` logged steps);
its report goes to OUTPUT_DIR/guard/, and `--stop-on high` stops the run at the first finding of that severity.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

from .common import DefaultsFormatter, add_format, print_table

GROUP = "train"

DESCRIPTIONS = {
    "sft": "supervised fine-tuning on instruction data (loss on replies only by default)",
    "reward": "train a reward model on preference pairs (Bradley-Terry); reports strict pairwise accuracy",
    "dpo": "direct preference optimisation of a causal LM on preference pairs",
    "grpo": "GRPO (TRL): sample a group of replies per prompt, reward them, push up the better ones; guarded",
    "rloo": "RLOO (TRL): REINFORCE with the other replies to the prompt as the baseline; guarded",
    "domain": "domain adaptation: continue causal-LM training on raw text; perplexity before and after",
}
GUARDED = ("grpo", "rloo")


def register(sub) -> None:
    from ..config import add_arguments
    from ..train import STAGES

    for name, (cls, _) in STAGES.items():
        p = sub.add_parser(name, help=DESCRIPTIONS[name], description=DESCRIPTIONS[name],
                           formatter_class=DefaultsFormatter)
        p.add_argument("--config", help="YAML file whose keys are the fields below")
        add_format(p, json_help="the final metrics as JSON")
        # `quiet` is the global -q/--quiet flag; repeated here (without a default) so it also works after the stage.
        p.add_argument("-q", "--quiet", action="store_true", default=argparse.SUPPRESS,
                       help="no progress bar, only warnings and errors")
        if name in GUARDED:
            p.add_argument("--guard-every", type=int, default=5, metavar="N",
                           help="run the training checks every N logged steps (and at the end); on the lab's runs, 5 "
                                "caught as many runs as 10 with no more false alarms, a few steps earlier "
                                "(docs/validation.md) (default: %(default)s)")
            p.add_argument("--stop-on", choices=("low", "medium", "high", "critical"), default=None,
                           help="stop training at the first training-check finding of this severity (none: never stop)")
        add_arguments(p, cls, skip=("quiet",))
        p.set_defaults(func=cmd_train, stage=name)


def cmd_train(args) -> int:
    from ..config import from_args
    from ..train import STAGES

    cls, run = STAGES[args.stage]
    own = ("quiet", "guard_every", "stop_on")
    flags = argparse.Namespace(**{k: v for k, v in vars(args).items() if k not in own})
    from ..train.trl_names import from_trl_names

    # a TRL recipe's own names (model_name_or_path, dataset_name, use_peft, eval_strategy, ...) work in the YAML file
    cfg: Any = from_args(cls, flags, args.config, translate=lambda data, source: from_trl_names(cls, data, source))
    if args.quiet:  # a YAML `quiet: true` stands; the flag can only switch quiet on
        cfg.quiet = True
    guard = None
    if args.stage in GUARDED:
        from ..audit.guard import SentinelCallback

        guard = SentinelCallback(every_n_steps=args.guard_every, stop_on=args.stop_on)
    result = run(cfg, callbacks=[guard]) if guard is not None else run(cfg)
    if int(os.environ.get("RANK", "0")) != 0:
        return 0  # under torchrun / accelerate launch, the main process alone reports (and writes the guard's report)
    if args.format == "json":
        from .common import print_json

        out = {"output_dir": str(result.output_dir), "global_step": result.global_step, "metrics": result.metrics}
        if guard is not None:
            if guard.report is not None:
                guard.report.save(result.output_dir / "guard")
            out["guard"] = {"alarms": [{"id": f.id, "severity": f.severity.value, "step": f.data.get("step"),
                                        "description": f.description} for f in guard.alarms],
                            "stopped_at": guard.stopped_at, "skipped": guard.skipped_reason}
        print_json(out)
        return 0
    keys = [k for k in result.metrics if k not in ("step", "epoch") and not k.endswith(("_runtime", "_per_second"))]
    print_table(f"sentinel train {args.stage}: {result.global_step} steps -> {result.output_dir}",
                [(k, result.metrics[k]) for k in keys], ("metric", "final value"))
    train = result.data_summary.get("train", {})
    print(f"data: {train.get('rows_read', '?')} rows read from {train.get('source', '?')}, "
          f"{train.get('rows_skipped', 0)} skipped" + "".join(f"\n  skipped {n}: {reason}" for reason, n in
                                                              train.get("skip_reasons", {}).items()))
    print(f"model, metrics.jsonl, config.yaml and data_summary.json written to {result.output_dir}")
    if guard is not None:
        _report_guard(guard, result.output_dir)
    return 0


def _report_guard(guard, out) -> None:
    """Save the guard's last report under OUT/guard and print its alarms (or why it could not check)."""
    from pathlib import Path

    if guard.report is not None:
        guard.report.save(Path(out) / "guard")
    if guard.skipped_reason:
        print(f"guard: training checks skipped: {guard.skipped_reason}")
    for f in guard.alarms:
        print(f"guard [{f.severity.value}] {f.id} (from step {f.data.get('step', '?')}): {f.description}")
    if guard.stopped_at is not None:
        print(f"guard: training stopped at step {guard.stopped_at}")
    if guard.report is not None:
        print(f"guard: {len(guard.alarms)} alarm(s); report in {Path(out) / 'guard'}")
