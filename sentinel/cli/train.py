"""`sentinel train sft|reward|dpo --config FILE.yaml [--field value ...]`.

The YAML file maps one to one onto the stage's config dataclass; every field is also a flag that overrides it.
Runs under `accelerate launch` unchanged (DDP, DeepSpeed and FSDP settings go through `trainer_args`).
"""

from __future__ import annotations

import argparse

from .common import print_table

GROUP = "train"

DESCRIPTIONS = {
    "sft": "supervised fine-tuning on instruction data (loss on replies only by default)",
    "reward": "train a reward model on preference pairs (Bradley-Terry); reports strict pairwise accuracy",
    "dpo": "direct preference optimisation of a causal LM on preference pairs",
}


def register(sub) -> None:
    from ..config import add_arguments
    from ..train.dpo import DPOConfig
    from ..train.reward import RewardConfig
    from ..train.sft import SFTConfig

    for name, cls in (("sft", SFTConfig), ("reward", RewardConfig), ("dpo", DPOConfig)):
        p = sub.add_parser(name, help=DESCRIPTIONS[name], description=DESCRIPTIONS[name],
                           formatter_class=argparse.ArgumentDefaultsHelpFormatter)
        p.add_argument("--config", help="YAML file whose keys are the fields below")
        p.add_argument("--json", action="store_true", help="print the final metrics as JSON")
        # `quiet` is the global -q/--quiet flag; repeated here (without a default) so it also works after the stage.
        p.add_argument("-q", "--quiet", action="store_true", default=argparse.SUPPRESS,
                       help="no progress bar, only warnings and errors")
        add_arguments(p, cls, skip=("quiet",))
        p.set_defaults(func=cmd_train, stage=name)


def cmd_train(args) -> int:
    from ..config import from_args
    from ..train import STAGES

    cls, run = STAGES[args.stage]
    flags = argparse.Namespace(**{k: v for k, v in vars(args).items() if k != "quiet"})
    cfg = from_args(cls, flags, args.config)
    if args.quiet:  # a YAML `quiet: true` stands; the flag can only switch quiet on
        cfg.quiet = True
    result = run(cfg)
    if args.json:
        from .common import print_json

        print_json({"output_dir": str(result.output_dir), "global_step": result.global_step,
                    "metrics": result.metrics})
        return 0
    keys = [k for k in result.metrics if k not in ("step", "epoch") and not k.endswith(("_runtime", "_per_second"))]
    print_table(f"sentinel train {args.stage}: {result.global_step} steps -> {result.output_dir}",
                [(k, result.metrics[k]) for k in keys], ("metric", "final value"))
    train = result.data_summary.get("train", {})
    print(f"data: {train.get('rows_read', '?')} rows read from {train.get('source', '?')}, "
          f"{train.get('rows_skipped', 0)} skipped" + "".join(f"\n  skipped {n}: {reason}" for reason, n in
                                                              train.get("skip_reasons", {}).items()))
    print(f"model, metrics.jsonl, config.yaml and data_summary.json written to {result.output_dir}")
    return 0
