"""`sentinel demo`: the main job `make demo` runs — the lab pipeline SFT -> reward model -> PPO -> DPO, with audits."""

from __future__ import annotations

GROUP = None


def register(sub) -> None:
    from ..config import Switch, add_arguments
    from ..demo.run import DemoConfig

    p = sub.add_parser("demo", help="run the end-to-end lab demo (SFT -> RM -> PPO -> DPO) and write a report",
                       description="Runs the whole RLHF lifecycle on the built-in lab and writes OUT/report.html. "
                       "Stages already complete in OUT are reused, so an interrupted run resumes.")
    p.add_argument("--out", default="demo-out", help="output folder (default: %(default)s)")
    p.add_argument("--config", help="YAML file with DemoConfig fields")
    p.add_argument("--quick", action=Switch,
                   help="smaller sizes (QUICK_DEMO: one PPO seed of fewer steps, a smaller reward model, no mitigation "
                        "runs) for a first look in under three minutes; the YAML file and flags still override them")
    add_arguments(p, DemoConfig)
    p.set_defaults(func=cmd_demo)


def cmd_demo(args) -> int:
    from ..config import from_args
    from ..demo.run import QUICK_DEMO, DemoConfig, run_demo
    from .common import print_findings, print_table

    report = run_demo(args.out, from_args(DemoConfig, args, args.config, base=QUICK_DEMO if args.quick else None))
    m = report.metrics
    print_table("gold accuracy on the lab's eval prompts", [(n, m[f"{n}/gold_accuracy"], m[f"{n}/mean_gold"])
                                                          for n in ("SFT", "PPO", "DPO")],
                ("model", "gold accuracy", "mean gold reward"))
    print_findings(report)
    print(f"report: {args.out}/report.html (and report.json, report.md)")
    return 0
