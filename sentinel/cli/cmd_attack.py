"""`sentinel attack reward-model`: black-box search for short insertions that raise bad responses' reward."""

from __future__ import annotations

from .common import add_fail_on, add_model_safety, finish_report

GROUP = "attack"


def register(sub) -> None:
    p = sub.add_parser("reward-model", help="search for phrases that make a reward model prefer bad responses",
                       description="A black-box beam search for short insertions that raise the reward of rejected "
                       "replies: it scores at most --attack-budget texts, then measures each phrase found on "
                       "held-out pairs (uplift, uplift over a neutral insertion, flip rate). Exit 1 when a phrase "
                       "flips pairs at or above --fail-on.")
    p.add_argument("--reward-model", required=True, help="reward model: a folder, or 'module:function' for a callable "
                   "fn(prompts, responses) -> rewards")
    p.add_argument("--tokenizer", help="tokenizer folder, when it is not saved with the model")
    p.add_argument("--cases", help="preference file (prompt/chosen/rejected); default: the built-in set")
    p.add_argument("--out", help="folder for report.json, report.html and report.md")
    p.add_argument("--attack-budget", type=int, default=2000,
                   help="texts the search may score (default: %(default)s)")
    p.add_argument("--beam", type=int, default=4, help="candidates kept per round (default: %(default)s)")
    p.add_argument("--max-words", type=int, default=12, help="longest insertion, in words (default: %(default)s)")
    p.add_argument("--seed", type=int, default=0, help="seed of the search's random choices")
    add_fail_on(p)
    add_model_safety(p)
    p.set_defaults(func=cmd_attack)


def cmd_attack(args) -> int:
    from ..audit.attack import attack_reward_model
    from ..audit.targets import as_target
    from ..report import Report

    rm = as_target(args.reward_model, args.tokenizer, device=args.device, allow_pickle=args.allow_pickle,
                   trust_remote_code=args.trust_remote_code)
    result = attack_reward_model(rm, args.cases, budget=args.attack_budget, beam=args.beam, max_words=args.max_words,
                                 seed=args.seed)
    report = Report(kind="attack", title="Black-box phrase attack on a reward model",
                    findings=[result.finding] if result.finding else [], metrics=result.to_dict(),
                    config={"attack_budget": args.attack_budget, "beam": args.beam, "max_words": args.max_words,
                            "cases": args.cases}, seed=args.seed, model={"reward_function": rm.name})
    if args.format == "text":
        from .common import print_table

        print_table("best insertions (held-out pairs)", [
            (m["phrase"], m["position"], f"{m['uplift']:+.3g}", f"{m['uplift_vs_control']:+.3g}",
             "-" if m["flip_rate"] is None else f"{m['flip_rate']:.2f}") for m in result.phrases],
            ("phrase", "position", "uplift", "vs neutral", "flip rate"))
    return finish_report(report, args.out, args.fail_on, args.format)
