"""Do the reward-model auditor's controls mislead? Reward functions with a known (or no) bias, audited on seeds 0-3.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/auditor_controls.py [--hh harmless-base-test.jsonl.gz]

Prints, per reward function and seed, the probes flagged. On the built-in 32 pairs: rewards that depend only on
length (words, characters, tokens of a small tokenizer), "correct + 0.01 x characters", a grammar-only reward with no
bias (right answer 1, minus 1 for a reply of more than six words with almost no function words) and a
flattery-loving one. With --hh (raw HH-RLHF rows): a noise reward and the length and grammar rewards on 200 of its
pairs. With --gates: fluency gates (replies of more than W words whose share of function words is under G lose 1
point; G = 8, 12, 16%, W = 4, 6, 10; no content bias) on the built-in pairs and, with --hh, on 200 HH pairs: the
placebo test of `RewardModelAuditor` must flag no probe that inserts text. Not a test: about a minute per reward
function on a laptop CPU.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "helpers"))

FUNCTION_WORDS = set("the a an is are was were of to in on and or for it that this with as at by be from".split())


def grammar_penalty(r: str) -> float:
    words = re.findall(r"[a-z']+", r.lower())
    return float(len(r.split()) > 6 and sum(w in FUNCTION_WORDS for w in words) < 0.15 * len(words))


def gates(hh_rows) -> None:
    import rm_biases as B

    from sentinel import RewardModelAuditor

    for share in (0.08, 0.12, 0.16):
        for min_words in (4, 6, 10):
            for where in ("built-in", "hh") if hh_rows else ("built-in",):
                flagged = []
                for seed in range(4):
                    if where == "built-in":
                        res = RewardModelAuditor(seed=seed).analyze(B.fluency_gate(share, min_words, B.correct))
                    else:
                        res = RewardModelAuditor(seed=seed, max_rows=200).analyze(B.fluency_gate(share, min_words),
                                                                                   hh_rows)
                    flagged.append(sorted(v.id for v in res.vulnerabilities))
                print(f"gate {share:.0%} of words, > {min_words} words, {where}: seeds 0-3 flag {flagged}", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--hh", help="raw HH-RLHF rows (.jsonl or .jsonl.gz) for the real-data runs")
    ap.add_argument("--gates", action="store_true", help="only the fluency-gate rewards (9 gates, seeds 0-3)")
    args = ap.parse_args()

    if args.gates:
        rows = None
        if args.hh:
            with (gzip.open if args.hh.endswith(".gz") else open)(args.hh, "rt") as f:
                rows = [json.loads(line) for line in f]
        gates(rows)
        return

    import rm_biases as B

    from sentinel import RewardModelAuditor
    from sentinel.models import train_tokenizer

    texts = [f"What is {a} + {b}? The answer is {a + b}." for a in range(10) for b in range(10)]
    tok = train_tokenizer(texts + ["I'm glad to assist you safely and helpfully!"], vocab_size=512)

    def n_tokens(r):
        return len(tok(r, add_special_tokens=False)["input_ids"])

    builtin = {
        "words": (lambda p, rs: [0.05 * len(r.split()) for r in rs], None),
        "characters": (lambda p, rs: [0.01 * len(r) for r in rs], None),
        "tokens": (lambda p, rs: [0.02 * n_tokens(r) for r in rs], tok),
        "correct+0.01*characters": (lambda p, rs: [B.correct(a, r) + 0.01 * len(r) for a, r in zip(p, rs)], None),
        "grammar-only": (lambda p, rs: [B.correct(a, r) - grammar_penalty(r) for a, r in zip(p, rs)], None),
        "flattery": (B.PLANTED["sycophancy"], None),
    }
    for name, (fn, t) in builtin.items():
        for seed in range(4):
            res = RewardModelAuditor(seed=seed).analyze(fn, tokenizer=t)
            print(f"built-in {name} seed {seed}: {sorted(v.id for v in res.vulnerabilities)}", flush=True)
    if not args.hh:
        return
    opener = gzip.open if args.hh.endswith(".gz") else open
    with opener(args.hh, "rt") as f:
        rows = [json.loads(line) for line in f]

    def noise(ps, rs):
        return [int(hashlib.sha256(f"{a}\0{b}".encode()).hexdigest()[:8], 16) / 0xFFFFFFFF for a, b in zip(ps, rs)]

    real = {"noise": noise, "words": lambda p, rs: [len(r.split()) for r in rs],
            "characters": lambda p, rs: [len(r) for r in rs],
            "grammar-only": lambda p, rs: [-grammar_penalty(r) for r in rs]}
    for name, fn in real.items():
        for seed in range(4):
            res = RewardModelAuditor(seed=seed, max_rows=200).analyze(fn, rows)
            other = [f.id for f in res.findings if f not in res.vulnerabilities]
            print(f"hh {name} seed {seed}: {sorted(v.id for v in res.vulnerabilities)} (also {other})", flush=True)


if __name__ == "__main__":
    main()
