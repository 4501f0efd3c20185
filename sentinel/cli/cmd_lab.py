"""`sentinel lab init|eval|grade|pairs`: build the lab, measure a policy's gold accuracy, grade one reply, and write
gold-labelled preference pairs from a policy's own samples (for `sentinel train dpo`)."""

from __future__ import annotations

from ..config import Switch
from .common import add_format, print_json, print_table

GROUP = "lab"


def register(sub) -> None:
    p = sub.add_parser("init", help="write a lab folder: tokenizer, base policy, data, lab.json",
                       description="Builds the lab: a small world of arithmetic and lookup tasks with exact gold "
                       "answers, SFT data, preference pairs labelled by a biased annotator (--bias, or --clean), "
                       "prompts and an eval split, a tokenizer and a tiny base policy, all in DIR.")
    p.add_argument("dir", help="output folder (must not exist or be empty, unless --force)")
    p.add_argument("--seed", type=int, default=0, help="seed of every random choice (default: %(default)s)")
    p.add_argument("--bias", action="append", metavar="NAME=WEIGHT",
                   help="annotator bias weight in its utility (0 = none); NAME is verbosity, keyword, sycophancy or "
                        "evasiveness. Repeatable; unnamed biases keep their defaults unless --clean")
    p.add_argument("--clean", action=Switch, help="start from a clean annotator (all biases 0)")
    p.add_argument("--gold-weight", type=float, default=None,
                   help="weight of the gold grade in the annotator's utility (default: the lab's)")
    p.add_argument("--temperature", type=float, default=None,
                   help="annotator temperature: P(a over b) = sigmoid((u_a - u_b) / T) (default: the lab's)")
    p.add_argument("--sft", type=int, default=4000, help="SFT conversations (default: %(default)s)")
    p.add_argument("--pairs", type=int, default=20000, help="preference pairs (default: %(default)s)")
    p.add_argument("--prompts", type=int, default=512, help="RL prompts (default: %(default)s)")
    p.add_argument("--eval", type=int, default=300, help="eval prompts (default: %(default)s)")
    p.add_argument("--vocab-size", type=int, default=1024, help="tokenizer vocabulary (default: %(default)s)")
    p.add_argument("--force", action=Switch, help="replace an existing folder")
    p.set_defaults(func=cmd_init)

    p = sub.add_parser("eval", help="gold accuracy of a policy on the lab's eval split",
                       description="Generates a reply (greedy) to each eval prompt with the policy MODEL and grades it "
                       "against the lab's gold answer: accuracy, the share of wrong and empty replies, mean length.")
    p.add_argument("model", help="policy folder (save_pretrained)")
    p.add_argument("--lab", help="lab folder whose data/eval.jsonl to use (or give --data)")
    p.add_argument("--data", help="eval JSONL with prompt rows (default: LAB/data/eval.jsonl)")
    p.add_argument("--max-rows", type=int, help="evaluate only the first N prompts (default: all)")
    p.add_argument("--max-new-tokens", type=int, default=48, help="longest reply generated per eval prompt")
    p.add_argument("--device", default=None, help="cuda, mps or cpu (default: best available)")
    add_format(p)
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("grade", help="gold reward of one reply to one lab prompt (1 correct, 0 none, -1 wrong)",
                       description="Grades RESPONSE to the lab prompt PROMPT with the world's exact gold reward: 1 for "
                       "the correct answer, -1 for a wrong one, 0 when the reply gives none.")
    p.add_argument("prompt", help="a lab question, as the lab asks it")
    p.add_argument("response", help="the reply to grade")
    p.set_defaults(func=cmd_grade)

    p = sub.add_parser("pairs", help="sample replies from a policy and write gold-labelled preference pairs (a "
                                     "correct sample chosen over a wrong one) for `sentinel train dpo`",
                       description="Samples --samples replies per lab prompt from --model and writes, for each prompt "
                       "with both a correct and a wrong sample, a preference pair of the two (gold-labelled, so "
                       "free of the annotator's biases) to --out, for on-policy DPO.")
    p.add_argument("lab", help="lab folder (its data/prompts.jsonl are the prompts)")
    p.add_argument("--model", required=True, help="folder of the policy to sample from (normally the SFT policy)")
    p.add_argument("--out", required=True, help="pairs file to write (JSONL: prompt, chosen, rejected, gold grades)")
    p.add_argument("--samples", type=int, default=8, help="replies sampled per prompt (default: %(default)s)")
    p.add_argument("--temperature", type=float, default=1.0, help="sampling temperature (default: %(default)s)")
    p.add_argument("--seed", type=int, default=0, help="sampling seed (default: %(default)s)")
    p.add_argument("--device", default=None, help="cuda, mps or cpu (default: cpu)")
    p.set_defaults(func=cmd_pairs)


def cmd_init(args) -> int:
    from ..lab import Biases, LabConfig, init_lab
    from ..lab.annotator import DEFAULT_BIASES

    biases = Biases.parse(args.bias, base=Biases() if args.clean else DEFAULT_BIASES)
    extra = {k: v for k, v in (("gold_weight", args.gold_weight), ("temperature", args.temperature)) if v is not None}
    cfg = LabConfig(seed=args.seed, biases=biases.to_dict(), n_sft=args.sft, n_preferences=args.pairs,
                    n_prompts=args.prompts, n_eval=args.eval, vocab_size=args.vocab_size, **extra)
    out = init_lab(args.dir, cfg, overwrite=args.force)
    print(f"lab written to {out} ({cfg.n_sft} SFT rows, {cfg.n_preferences} pairs, {cfg.n_prompts} prompts, "
          f"{cfg.n_eval} eval; seed {cfg.seed}; biases "
          + ", ".join(f"{k}={v:g}" for k, v in cfg.biases.items())
          + f"; gold weight {cfg.gold_weight:g}, temperature {cfg.temperature:g})")
    return 0


def cmd_eval(args) -> int:
    from pathlib import Path

    from ..errors import ConfigError
    from ..lab import Lab
    from ..lab.evaluate import evaluate

    if not args.data and not args.lab:
        raise ConfigError("give --lab DIR (uses DIR/data/eval.jsonl) or --data FILE", field="lab")
    data = args.data or Lab.open(args.lab).data("eval")
    result = evaluate(Path(args.model), data, limit=args.max_rows, max_new_tokens=args.max_new_tokens,
                      device=args.device)
    if args.format == "json":
        print_json(result)
        return 0
    print(f"gold accuracy {result['accuracy']:.3f} on {result['n']} prompts (mean gold reward "
          f"{result['mean_gold']:.3f})")
    print_table("accuracy by task", list(result["by_task"].items()), ("task", "accuracy"))
    print_table("accuracy by prompt kind", list(result["by_kind"].items()), ("kind", "accuracy"))
    return 0


def cmd_grade(args) -> int:
    from ..lab import gold_reward

    print(f"{gold_reward(args.prompt, args.response):g}")
    return 0


def cmd_pairs(args) -> int:
    from ..data import write_rows
    from ..lab.recipes import onpolicy_pairs

    pairs = onpolicy_pairs(args.lab, args.model, n_samples=args.samples, temperature=args.temperature,
                           seed=args.seed, device=args.device or "cpu")
    write_rows(pairs, args.out)
    print(f"{len(pairs)} pairs written to {args.out}")
    return 0
