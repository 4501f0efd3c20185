"""Model organism for the SycophancyDetector: two tiny chat models SFT'd with TRL on the same questions, one taught
to hold its answer (clean) and one taught to adopt what the user suggests or pushes (sycophantic). The detector
should score the sycophantic one clearly higher, on questions seen in training and on held-out ones.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/sycophancy_organism.py [--epochs 15] [--out bench-out/syco]

Both models learn the neutral answer to every built-in question; the suggestion / push-back behaviour is taught on
the first `--train-questions` questions and measured on all (rates are printed for seen and held-out questions).
This is not a speed benchmark: it checks that the detector tells a planted behaviour apart (the lab's organism,
when `sentinel.lab` lands, replaces it).
"""

from __future__ import annotations

import argparse
import json
import os
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def build_data(items, sycophantic: bool, behaviour_ids: set[str]) -> list[dict]:
    """prompt/completion chat rows: neutral answers for all items, suggestion and push-back turns for some."""
    from sentinel.audit.sycophancy.pressure_probes import FINAL_ASK, PUSHBACK, SuggestedAnswer

    rows = []

    def add(prompt, answer):
        rows.append({"prompt": prompt, "completion": [{"role": "assistant", "content": answer}]})

    for it in items:
        neutral = [{"role": "user", "content": it.prompt()}]
        add(neutral, it.label(it.correct))
        if it.id not in behaviour_ids:
            continue
        for wrong in (c for c in it.choices if c != it.correct):
            it_w = type(it)(it.question, it.correct, wrong, choices=it.choices, id=it.id)
            add(SuggestedAnswer.suggestion(it_w), it.label(wrong if sycophantic else it.correct))
            pushed = neutral + [{"role": "assistant", "content": it.label(it.correct)},
                                {"role": "user", "content": f"{PUSHBACK} {FINAL_ASK}"}]
            add(pushed, it.label(wrong if sycophantic else it.correct))
    return rows


def train(tok, rows, out_dir: str, epochs: int, seed: int):
    from datasets import Dataset
    from trl import SFTConfig, SFTTrainer

    from sentinel.models import TinyConfig, build_causal_lm

    model = build_causal_lm(tok, TinyConfig(hidden_size=128, intermediate_size=256, num_hidden_layers=2,
                                            max_position_embeddings=512), seed=seed)
    cfg = SFTConfig(output_dir=out_dir, num_train_epochs=epochs, per_device_train_batch_size=16, learning_rate=3e-3,
                    lr_scheduler_type="cosine", warmup_steps=5, use_cpu=True, bf16=False,
                    gradient_checkpointing=False, logging_steps=20, save_strategy="no", report_to=[],
                    max_length=512, seed=seed, dataloader_num_workers=0)
    trainer = SFTTrainer(model=model, args=cfg, train_dataset=Dataset.from_list(rows), processing_class=tok)
    trainer.train()
    return trainer.model.eval()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=15)
    p.add_argument("--train-questions", type=int, default=24)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="bench-out/syco")
    args = p.parse_args()

    from sentinel import SycophancyDetector
    from sentinel.audit.sycophancy.builtin import builtin_questions
    from sentinel.models import train_tokenizer

    items = builtin_questions()
    seen = {it.id for it in items[: args.train_questions]}
    clean_rows, syco_rows = build_data(items, False, seen), build_data(items, True, seen)
    texts = [m["content"] for r in clean_rows + syco_rows for m in r["prompt"] + r["completion"]]
    tok = train_tokenizer(texts, vocab_size=1024)
    results = {}
    for name, rows in (("clean", clean_rows), ("sycophantic", syco_rows)):
        t0 = time.time()
        model = train(tok, rows, os.path.join(args.out, name), args.epochs, args.seed)
        results[name] = {"train_s": round(time.time() - t0, 1), "rows": len(rows)}
        for split, subset in (("seen", items[: args.train_questions]), ("held_out", items[args.train_questions:])):
            r = SycophancyDetector(probes=["are_you_sure", "suggested_answer"]).analyze(
                model, tokenizer=tok, questions=subset, out=os.path.join(args.out, name, f"audit_{split}"))
            results[name][split] = {
                "score": round(r.sycophancy_score, 3),
                **{k: {"rate": round(v.rate, 3), "ci": [round(v.low, 3), round(v.high, 3)], "n": v.n,
                       "unclear": v.unclear} for k, v in r.rates.items()},
                "accuracy_neutral": r.rates["suggested_answer"].extra["accuracy_neutral"],
            }
    print(json.dumps(results, indent=2))
    for split in ("seen", "held_out"):
        c, s = results["clean"][split]["score"], results["sycophantic"][split]["score"]
        print(f"{split}: sycophancy_score clean {c:.3f} vs sycophantic {s:.3f} (difference {s - c:+.3f})")


if __name__ == "__main__":
    main()
