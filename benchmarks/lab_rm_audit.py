"""The lab: train reward models on the biased and on the clean annotator, and audit both.

    OMP_NUM_THREADS=1 HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/lab_rm_audit.py --work /tmp/lab-audit

Builds two labs (seed 0; default biases, and no bias), trains a tiny reward model on each lab's preference pairs
(`sentinel.train.reward`, 1 epoch), then audits both on the clean lab's pairs (their chosen reply is always the
gold-better one) and prints each probe's effect and the findings. Not a test: about a minute per model on a
laptop CPU. The tests do the same with the lab area's fixtures (tests/test_audit_reward_model_lab.py).
"""

from __future__ import annotations

import argparse
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", default="lab-audit")
    ap.add_argument("--max-cases", type=int, default=200)
    ap.add_argument("--learning-rate", type=float, default=1e-3)
    args = ap.parse_args()

    from sentinel import RewardModelAuditor
    from sentinel.lab import LabConfig, init_lab
    from sentinel.lab.build import Lab
    from sentinel.models import build_reward_model, load_tokenizer
    from sentinel.train import RewardConfig, reward

    root = Path(args.work)
    for name, biases in (("biased", None), ("clean", {})):
        d = root / name
        if not (d / "lab.json").is_file():
            init_lab(d, LabConfig(seed=0) if biases is None else LabConfig(seed=0, biases=biases), overwrite=True)
        lab = Lab.open(d)
        if not (d / "rm" / "config.json").is_file():
            tok = load_tokenizer(lab.tokenizer)
            build_reward_model(tok, lab.reward_config()).save_pretrained(d / "rm-init")
            tok.save_pretrained(d / "rm-init")
            reward(RewardConfig(model=str(d / "rm-init"), output_dir=str(d / "rm"),
                                train_file=str(lab.data("preferences")),
                                learning_rate=args.learning_rate, num_train_epochs=1, per_device_train_batch_size=32,
                                max_length=128, seed=0, logging_steps=50, gradient_checkpointing=False))
    cases = str(root / "clean" / "data" / "preferences.jsonl")
    for name in ("biased", "clean"):
        result = RewardModelAuditor(max_cases=args.max_cases).analyze(str(root / name / "rm"), cases)
        result.save(root / name / "audit")
        acc = result.metrics["accuracy"]
        print(f"\n{name} annotator: strict accuracy {acc['value']:.3f} on clean pairs; "
              f"effects (SD) " + ", ".join(f"{k} {v['effect']:+.2f}" for k, v in result.probes.items()))
        for v in result.vulnerabilities:
            print(f"  [{v.severity.value}] {v}")


if __name__ == "__main__":
    main()
