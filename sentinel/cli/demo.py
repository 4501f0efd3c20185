"""`sentinel demo`: the main job that `make demo` runs.

Until the full lab pipeline lands, it runs the smallest real end-to-end path: read and convert real preference
data, build a tiny policy and reward model with a locally trained tokenizer, score the pairs, and write a report.
"""

from __future__ import annotations

import logging
from pathlib import Path

GROUP = None
logger = logging.getLogger(__name__)

DEFAULT_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "preference" / "helpful-base-test.jsonl.gz"


def register(sub) -> None:
    p = sub.add_parser("demo", help="run the end-to-end demo and write a report")
    p.add_argument("--out", default="demo-out", help="output folder (default: %(default)s)")
    p.add_argument("--data", default=str(DEFAULT_DATA), help="preference data to start from")
    p.add_argument("--max-pairs", type=int, default=200)
    p.set_defaults(func=cmd_demo)


def cmd_demo(args) -> int:
    import torch

    from ..data import load_preferences, prompt_text, write_rows
    from ..models import build_reward_model, train_tokenizer
    from ..report import Report

    out = Path(args.out)
    data = load_preferences(args.data, skip_invalid=True)
    pairs = data.examples[: args.max_pairs]
    write_rows([{"prompt": prompt_text(p["prompt"]), "chosen": p["chosen"], "rejected": p["rejected"]} for p in pairs],
               out / "pairs.jsonl")
    texts = [prompt_text(p["prompt"]) + " " + p[k] for p in pairs for k in ("chosen", "rejected")]
    tok = train_tokenizer(texts, vocab_size=1024)
    rm = build_reward_model(tok).eval()
    with torch.no_grad():
        enc = tok(texts, return_tensors="pt", padding=True, truncation=True, max_length=128)
        scores = rm(**enc).logits.squeeze(-1).view(-1, 2)
    acc = float((scores[:, 0] > scores[:, 1]).float().mean())
    report = Report(kind="demo", title="sentinel demo: untrained reward model on HH-RLHF pairs",
                    metrics={"pairs": len(pairs), "rows_skipped": len(data.skipped), "pairwise_accuracy": acc},
                    model={"reward_model": "tiny Llama, untrained"})
    report.save(out)
    print(f"{len(pairs)} pairs, untrained RM pairwise accuracy {acc:.3f} (chance level); report in {out}/")
    return 0
