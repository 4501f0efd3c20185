"""`sentinel compare MODEL_A MODEL_B ... --prompts FILE [--reward-model RM | --gold lab]`."""

from __future__ import annotations

from .common import add_format, add_model_safety, print_json, print_table

GROUP = None


def register(sub) -> None:
    from ..config import add_arguments
    from ..train.compare import CompareConfig

    p = sub.add_parser("compare", help="generate from several models and compare reward, win rate, KL and length",
                       description="Generate from each model on the same prompts and score the replies. The first "
                       "model is the baseline for win rates and (unless --ref-model) the KL reference.")
    p.add_argument("models", nargs="+", metavar="MODEL", help="model folders (at least two)")
    p.add_argument("--prompts", required=True, help="file of prompts (rows with 'prompt', or any data format)")
    scorer = p.add_mutually_exclusive_group(required=True)
    scorer.add_argument("--reward-model", help="reward model folder or 'module:function'")
    scorer.add_argument("--gold", choices=["lab"], help="score with the lab's gold grader")
    p.add_argument("--ref-model", help="reference model for the KL column (default: the first model)")
    p.add_argument("--out", help="folder for report.json, report.html and report.md")
    add_format(p, json_help="the report as JSON (the shape of report.json)")
    add_model_safety(p)
    add_arguments(p, CompareConfig)
    p.set_defaults(func=cmd_compare)


def cmd_compare(args) -> int:
    from ..config import from_args
    from ..train.compare import CompareConfig, compare, table_rows

    cfg = from_args(CompareConfig, args)
    scorer, name = args.reward_model, None
    if args.gold == "lab":
        from ..lab import gold_rewards

        scorer, name = gold_rewards, "lab gold reward"
    report = compare(args.models, args.prompts, reward_model=scorer, scorer_name=name, reference=args.ref_model,
                     config=cfg, device=args.device, allow_pickle=args.allow_pickle,
                     trust_remote_code=args.trust_remote_code)
    if args.out:
        report.save(args.out)
    if args.format == "json":
        print_json(report.to_dict())
        return 0
    print_table(report.title, table_rows(report), ("model", "mean reward", "win rate", "KL (nats)", "mean length"))
    for f in report.findings:
        print(f"  {f.description}")
    if args.out:
        print(f"report written to {args.out}/report.json, report.html, report.md")
    return 0
