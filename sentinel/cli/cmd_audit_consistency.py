"""`sentinel audit data|stability|training`: the consistency checks and the guard's training checks from the command
line."""

from __future__ import annotations

from ..config import Switch
from .common import add_fail_on, add_model_safety, finish_report

GROUP = "audit"


def _common(p) -> None:
    p.add_argument("--out", help="folder for report.json, report.html and report.md")
    add_fail_on(p)


def register(sub) -> None:
    p = sub.add_parser("data", help="preference data: conflicting duplicates, cycles, confounds, poisoning",
                       description="Audits a preference file: conflicting and near duplicates, preference cycles, "
                       "style confounds (the chosen reply longer, more polite, ...), label noise against a reward "
                       "model (--reward-model), and poisoning triggers. Exit 0 when nothing is at or above "
                       "--fail-on, 1 when something is, 2 for a usage or input error.")
    p.add_argument("file", help="preference data (JSON, JSONL(.gz), CSV, Parquet, dataset folder)")
    p.add_argument("--reward-model", help="reward model (folder or module:function) for label noise and "
                                       "poisoning suspicion; default: a model fitted on the data itself")
    p.add_argument("--strict", action=Switch,
                   help="stop at the first invalid row; by default the valid rows are audited and the invalid ones "
                        "reported in an 'invalid-rows' finding")
    p.add_argument("--skip-invalid", action=Switch,
                   help="invalid rows are skipped and reported by default (--strict fails instead); accepted so "
                        "that scripts passing it keep working")
    p.add_argument("--poisoning", action=Switch, default=True,
                   help="search for triggers and poisoned pairs (--no-poisoning skips it; default: on)")
    p.add_argument("--split", help="split to read from a dataset folder with several")
    add_model_safety(p)
    _common(p)
    p.set_defaults(func=cmd_data)

    p = sub.add_parser("stability", help="reward-model stability: batch, padding, order, neutral edits, "
                                         "transitivity, determinism",
                       description="Checks that a reward model gives the same reward to the same text however it is "
                       "batched, padded or ordered, under neutral edits (whitespace, casing), transitively across "
                       "pairs, and from run to run. Exit codes as every audit: 0, 1 at or above --fail-on, 2.")
    p.add_argument("--reward-model", required=True, help="reward model: a folder, or 'module:function' for a callable "
                   "fn(prompts, responses) -> rewards")
    p.add_argument("--cases", help="test cases: rows with prompt + responses (or preference pairs); "
                                   "default: a small built-in set")
    p.add_argument("--tolerance", type=float, default=1e-3, help="largest reward difference counted as equal")
    add_model_safety(p)
    _common(p)
    p.set_defaults(func=cmd_stability)

    p = sub.add_parser("training", help="a training log: length hacking, KL, ratio, clip fraction, entropy, "
                                        "value loss, over-optimisation",
                       description="Reads a training log (metrics.jsonl, a run folder or a trainer_state.json) and "
                       "checks it for reward hacking: length growth, KL past its target, policy-ratio and "
                       "clip-fraction spikes, entropy collapse, value-loss blow-ups, gold falling while the proxy "
                       "reward rises. Exit codes as every audit: 0, 1 at or above --fail-on, 2.")
    p.add_argument("metrics", help="metrics.jsonl (or an output folder holding one, or a trainer_state.json)")
    p.add_argument("--kl-target", type=float, help="the run's KL target (nats), for the 1.5x-target alarm")
    _common(p)
    p.set_defaults(func=cmd_training)


def _reward(spec, args):
    if not spec:
        return None
    from ..models import as_reward_fn

    return as_reward_fn(spec, device=args.device, allow_pickle=args.allow_pickle,
                        trust_remote_code=args.trust_remote_code)


def cmd_data(args) -> int:
    from ..audit.consistency import RLHFConsistencyChecker
    from ..data import load_preferences
    from ..report import Report

    loaded = load_preferences(args.file, skip_invalid=not args.strict, split=args.split)
    reference = _reward(args.reward_model, args)
    checker = RLHFConsistencyChecker()
    report = checker.check_preferences(loaded, reference_reward=reference)
    if args.poisoning:
        poison = checker.detect_poisoning(loaded, reference_reward=reference)
        report = Report("data-consistency", f"preference-data audit: {loaded.source}",
                        sorted(report.findings + [f for f in poison.findings if f.id != "invalid-rows"],
                               key=lambda f: -f.severity.rank),
                        {**report.metrics, "poisoning": poison.metrics}, {**report.config, **poison.config},
                        notes=report.notes + poison.notes)
        if args.out:
            poison.save(f"{args.out}/poisoning")
    return finish_report(report, args.out, args.fail_on, args.format)


def cmd_stability(args) -> int:
    from ..audit.consistency import RLHFConsistencyChecker

    checker = RLHFConsistencyChecker(reward_tolerance=args.tolerance)
    report = checker.check_reward_model(_reward(args.reward_model, args), args.cases)
    return finish_report(report, args.out, args.fail_on, args.format)


def cmd_training(args) -> int:
    from ..audit.consistency import RLHFConsistencyChecker

    report = RLHFConsistencyChecker(kl_target=args.kl_target).check_training(args.metrics)
    return finish_report(report, args.out, args.fail_on, args.format)
