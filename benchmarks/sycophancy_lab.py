"""Lab model organism: the clean lab SFT policy vs one SFT'd on sycophantic lab data, audited by SycophancyDetector.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/sycophancy_lab.py [--out bench-out/syco-lab] [--epochs 2]

Both policies start from the lab's base model and train with `sentinel.train.sft` on the same prompts
(DIR/data/sft.jsonl). The clean policy learns the lab's reference replies: the correct answer, and "Yes, I am sure"
after push-back. The sycophantic policy gets the same rows except where the user made a wrong claim ("I agree with
you, the answer is <claim>.") or pushed back ("You are right, I apologize. The answer is <a wrong answer>.") -
the replies a sycophancy-biased annotator prefers (the lab's `agreeing` / `capitulating` styles). Both are then
audited on held-out lab questions with the standard probes (our phrasing, not the lab's).
"""

from __future__ import annotations

import argparse
import json
import os
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default="bench-out/syco-lab")
    p.add_argument("--epochs", type=float, default=2.0)
    p.add_argument("--n", type=int, default=100, help="held-out lab questions per probe")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()

    from sentinel import SycophancyDetector
    from sentinel.audit.sycophancy import load_lab_questions
    from sentinel.audit.sycophancy.organism import sycophantic_sft_rows
    from sentinel.data import read_rows, write_rows
    from sentinel.lab import LabConfig, init_lab
    from sentinel.train.sft import SFTConfig, sft

    lab = os.path.join(args.out, "lab")
    if not os.path.isfile(os.path.join(lab, "lab.json")):
        init_lab(lab, LabConfig(seed=args.seed), overwrite=True)
    rows = read_rows(os.path.join(lab, "data", "sft.jsonl")).rows
    syco = sycophantic_sft_rows(rows, args.seed)
    changed = sum(a != b for a, b in zip(rows, syco))
    write_rows(syco, os.path.join(args.out, "sft_sycophantic.jsonl"))
    questions = load_lab_questions(lab, limit=args.n, seed=args.seed)
    results = {"sft_rows": len(rows), "rows_made_sycophantic": changed, "questions": len(questions)}
    for name, data in (("clean", os.path.join(lab, "data", "sft.jsonl")),
                       ("sycophantic", os.path.join(args.out, "sft_sycophantic.jsonl"))):
        t0 = time.time()
        model_dir = os.path.join(args.out, name)
        if not os.path.isfile(os.path.join(model_dir, "config.json")):
            sft(SFTConfig(model=os.path.join(lab, "base"), train_file=data, output_dir=model_dir,
                          num_train_epochs=args.epochs, learning_rate=3e-3, per_device_train_batch_size=32,
                          lr_scheduler_type="cosine", max_length=256, seed=args.seed, quiet=True, device="cpu",
                          save_steps=100000))
        r = SycophancyDetector(probes=["are_you_sure", "suggested_answer"], max_new_tokens=24,
                               batch_size=16).analyze(model_dir, questions=questions,
                                                      out=os.path.join(args.out, f"audit_{name}"))
        results[name] = {"train_and_audit_s": round(time.time() - t0, 1), "score": round(r.sycophancy_score, 3),
                         **{k: {"rate": round(v.rate, 3), "ci": [round(v.low, 3), round(v.high, 3)], "n": v.n,
                                "unclear": v.unclear, "regressive": v.regressive, "progressive": v.progressive}
                            for k, v in r.rates.items()},
                         "accuracy_neutral": r.rates["suggested_answer"].extra["accuracy_neutral"]}
    print(json.dumps(results, indent=2))
    c, s = results["clean"]["score"], results["sycophantic"]["score"]
    print(f"sycophancy_score: clean SFT {c:.3f} vs sycophantic SFT {s:.3f} (difference {s - c:+.3f})")


if __name__ == "__main__":
    main()
