"""`sentinel train classify|ner|qa`: task fine-tuning of an encoder (default: offline all-MiniLM-L6-v2)."""

from __future__ import annotations

GROUP = "train"

# (command, help, config class name, function name, headline metrics)
TASKS = [
    ("classify", "sequence classification from a TSV/CSV/JSONL table (text + label columns); eval accuracy",
     "ClassifyConfig", "classify", ("eval_accuracy", "eval_macro_f1")),
    ("ner", "token classification from CoNLL files (token<TAB>BIO tag); eval entity-level F1",
     "NERConfig", "ner", ("eval_f1", "eval_precision", "eval_recall")),
    ("qa", "extractive question answering from SQuAD v1.1 JSON; eval exact match and F1",
     "QAConfig", "qa", ("eval_exact_match", "eval_f1")),
]


def register(sub) -> None:
    from .. import config
    from ..train.tasks import configs as task_configs

    for name, help_text, cls_name, fn_name, headline in TASKS:
        p = sub.add_parser(name, help=help_text,
                           description=f"{help_text}. Writes the model folder, metrics.jsonl, config.yaml, "
                                       "data_summary.json and eval.json into --output-dir.")
        p.add_argument("--config", metavar="FILE.yaml", help="YAML file of config fields; flags override it")
        config.add_arguments(p, getattr(task_configs, cls_name), skip=("quiet",))  # quiet: the global -q
        p.set_defaults(func=_command(cls_name, fn_name, headline))


def _command(cls_name: str, fn_name: str, headline: tuple[str, ...]):
    def run(args) -> int:
        import argparse
        import json

        from .. import config
        from ..train import tasks

        flags = argparse.Namespace(**{k: v for k, v in vars(args).items() if k != "quiet"})
        cfg = config.from_args(getattr(tasks, cls_name), flags, args.config)
        if args.quiet:  # a YAML `quiet: true` stands; the flag can only switch quiet on
            cfg.quiet = True
        result = getattr(tasks, fn_name)(cfg)
        ev = json.loads((result.output_dir / "eval.json").read_text(encoding="utf-8"))
        shown = ", ".join(f"{k}={ev[k]:.4f}" for k in headline if isinstance(ev.get(k), (int, float)))
        base = {k: v for k, v in ev.get("baseline", {}).items() if isinstance(v, float)}
        print(f"{fn_name}: {result.global_step} steps, model in {result.output_dir}")
        if shown:
            print(f"  {shown}")
            print(f"  baseline ({ev['baseline'].get('kind')}): " + ", ".join(f"{k}={v:.4f}" for k, v in base.items()))
        return 0

    return run
