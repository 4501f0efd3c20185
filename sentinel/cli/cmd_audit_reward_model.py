"""`sentinel audit reward-model`: run the reward-model probes and write a report."""

from __future__ import annotations

from .common import add_fail_on, add_model_safety, finish_report

GROUP = "audit"


def register(sub) -> None:
    from ..audit.reward_model import AuditConfig
    from ..config import add_arguments

    p = sub.add_parser("reward-model", help="find what a reward model can be fooled by (length, keywords, ...)",
                       description="Probe a reward model with transformations that must not make a response "
                       "better, and report each bias with its effect size, flip rate and confidence interval.")
    p.add_argument("--reward-model", required=True,
                   help="reward model: a folder, or 'module:function' for a callable fn(prompts, responses) -> rewards")
    p.add_argument("--ref-model", help="a reference causal LM folder: audit --reward-model as a DPO policy "
                   "(implicit reward log pi - log pi_ref)")
    p.add_argument("--tokenizer", help="tokenizer folder, when it is not saved with the model")
    p.add_argument("--cases", help="preference file (prompt/chosen/rejected, HH-RLHF, chat) or prompt/response rows; "
                   "default: the built-in set")
    p.add_argument("--out", help="folder for report.json, report.html and report.md")
    p.add_argument("--config", help="YAML file with the fields below")
    add_fail_on(p)
    add_model_safety(p)
    add_arguments(p, AuditConfig)
    p.set_defaults(func=cmd_audit)


def load_target(args):
    """The --reward-model/--ref-model/--tokenizer flags as something `RewardModelAuditor.analyze` accepts."""
    if not args.ref_model:
        return args.reward_model
    from ..models import load_causal_lm

    policy, tok = load_causal_lm(args.reward_model, tokenizer=args.tokenizer, device=args.device,
                                 allow_pickle=args.allow_pickle, trust_remote_code=args.trust_remote_code)
    reference, _ = load_causal_lm(args.ref_model, tokenizer=tok, device=args.device, allow_pickle=args.allow_pickle,
                                  trust_remote_code=args.trust_remote_code)
    return (policy, reference, tok)


def cmd_audit(args) -> int:
    from ..audit.reward_model import AuditConfig, RewardModelAuditor
    from ..config import from_args, to_dict

    cfg = from_args(AuditConfig, args, args.config)
    auditor = RewardModelAuditor(**to_dict(cfg))
    result = auditor.analyze(load_target(args), args.cases, tokenizer=None if args.ref_model else args.tokenizer,
                             allow_pickle=args.allow_pickle, device=args.device)
    if args.format == "text":
        _print_summary(result)
    return finish_report(result, args.out, args.fail_on, args.format)


def _print_summary(result) -> None:
    from .common import print_table

    m = result.metrics
    if "accuracy" in m:
        print(f"{m['pairs']} pairs: strict accuracy {m['accuracy']['value']:.3f} "
              f"[{m['accuracy']['low']:.3f}, {m['accuracy']['high']:.3f}], tie rate {m['tie_rate']:.3f}")
    c = m["length_correlation"]
    if c.get("pearson") is not None:
        print(f"reward-length correlation: Pearson {c['pearson']:.3f}, Spearman {c['spearman']:.3f}")
    rows = [(pid, f"{s['shift']:+.3g} [{s['shift_low']:.3g}, {s['shift_high']:.3g}]", f"{s['effect']:.2f}",
             f"{s['p_value']:.2g}", "-" if s["flip_rate"] is None else f"{s['flip_rate']:.2f}",
             "YES" if s["flagged"] else "no") for pid, s in m["probes"].items()]
    print_table("probes", rows, ("probe", "shift [95% CI]", "effect (SD)", "p", "flip rate", "flagged"))
