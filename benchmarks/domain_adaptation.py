"""Domain adaptation on CPU: a tiny base model trained on general dialogue, adapted on NIH medical text (MedQuAD),
then instruction-tuned on MedQuAD's questions and answers: held-out medical and general perplexity at each stage.

    python benchmarks/domain_adaptation.py --out runs/domain [--data ../shared/data] [--base-steps 1500]
        [--adapt-steps 600] [--sft-steps 300] [--threads 2]

Data (`--data`, the layout of ../shared/data): general text = the chosen transcripts of HH-RLHF helpful-base and
harmless-base test splits (MIT), 10% of them held out by document; medical text = the 157 documents of MedQuAD's
NIDDK subset (CC BY 4.0; `benchmarks/_medquad.py`), 16 held out by document, whose question-answer pairs are held
out of SFT too. One tokenizer (BPE, 4,000 tokens) is trained on the general and medical training text, and one
tiny Llama (`--hidden 128 --layers 4`) on the general text (`sentinel train domain`). Then:

  1. adapt: `sentinel.train.domain` on the medical training documents, with the general held-out set as
     `general_eval_file`: domain perplexity before/after (what it learnt), general before/after (what it forgot);
  2. SFT (`sentinel.train.sft`) on the medical training documents' question-answer pairs, once from the adapted
     model and once from the general base, same settings: perplexity of the held-out pairs (chat-formatted), the
     order users follow (domain -> instruction) against instruction tuning alone.

Prints a table of perplexities and writes result.json.
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import time
from pathlib import Path

from _medquad import read_archive  # benchmarks/_medquad.py


def _hh(data: Path) -> list[str]:
    out = []
    for name in ("helpful-base-test.jsonl.gz", "harmless-base-test.jsonl.gz"):
        with gzip.open(data / "preference" / name, "rt", encoding="utf-8") as f:
            out += [json.loads(x)["chosen"].strip() for x in f]
    return out


def _write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="runs/domain")
    ap.add_argument("--data", default=str(Path(__file__).resolve().parents[2] / "shared" / "data"))
    ap.add_argument("--base-steps", type=int, default=1500)
    ap.add_argument("--adapt-steps", type=int, default=600)
    ap.add_argument("--sft-steps", type=int, default=300)
    ap.add_argument("--hidden", type=int, default=128)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--block-size", type=int, default=128)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    import torch

    from sentinel.models import TinyConfig, build_causal_lm, train_tokenizer
    from sentinel.models.perplexity import perplexity
    from sentinel.train import DomainConfig, SFTConfig, domain, sft

    torch.set_num_threads(args.threads)
    data, out = Path(args.data), Path(args.out)
    general = _hh(data)
    random.Random(args.seed).shuffle(general)
    n_gen = len(general) // 10
    gen_held, gen_train = general[:n_gen], general[n_gen:]
    med = read_archive(data / "domain" / "medquad-niddk.tar.gz")
    random.Random(args.seed).shuffle(med)
    med_held, med_train = med[:16], med[16:]
    files = {
        "general_train": _write_jsonl(out / "data" / "general-train.jsonl", [{"text": t} for t in gen_train]),
        "general_held": _write_jsonl(out / "data" / "general-held.jsonl", [{"text": t} for t in gen_held]),
        "med_train": _write_jsonl(out / "data" / "med-train.jsonl", [{"text": d["text"]} for d in med_train]),
        "med_held": _write_jsonl(out / "data" / "med-held.jsonl", [{"text": d["text"]} for d in med_held]),
        "qa_train": _write_jsonl(out / "data" / "qa-train.jsonl", [qa for d in med_train for qa in d["qa"]]),
    }
    qa_held = [qa for d in med_held for qa in d["qa"]]
    print(f"general: {len(gen_train)} train / {len(gen_held)} held-out documents; medical: {len(med_train)} / "
          f"{len(med_held)} documents ({sum(len(d['text'].split()) for d in med):,} words); QA pairs: "
          f"{sum(len(d['qa']) for d in med_train)} train / {len(qa_held)} held-out", flush=True)

    timings = {}
    init = out / "init"
    if not (init / "config.json").is_file():
        tok = train_tokenizer(gen_train + [d["text"] for d in med_train], vocab_size=4000)
        torch.manual_seed(args.seed)
        model = build_causal_lm(tok, TinyConfig(hidden_size=args.hidden, intermediate_size=4 * args.hidden,
                                                num_hidden_layers=args.layers, num_attention_heads=4,
                                                max_position_embeddings=512))
        model.save_pretrained(init)
        tok.save_pretrained(init)
    common = {"block_size": args.block_size, "per_device_train_batch_size": 16, "logging_steps": 50,
              "save_steps": 10 ** 6, "quiet": True, "seed": args.seed, "eval_fraction": 0.0}

    def stage(name, fn):
        t0 = time.perf_counter()
        result = fn()
        timings[name] = time.perf_counter() - t0
        print(f"{name}: {timings[name]:.0f} s", flush=True)
        return result

    base = out / "base"
    stage("base (general text)", lambda: domain(DomainConfig(
        model=str(init), train_file=str(files["general_train"]), output_dir=str(base), max_steps=args.base_steps,
        learning_rate=1e-3, warmup_ratio=0.05, eval_file=str(files["general_held"]), **common)))
    adapted = out / "adapted"
    res = stage("adapt (medical text)", lambda: domain(DomainConfig(
        model=str(base), train_file=str(files["med_train"]), output_dir=str(adapted), max_steps=args.adapt_steps,
        learning_rate=5e-4, eval_file=str(files["med_held"]), general_eval_file=str(files["general_held"]),
        **common)))
    m = res.metrics
    sft_common = {"train_file": str(files["qa_train"]), "max_steps": args.sft_steps, "learning_rate": 5e-4,
                  "per_device_train_batch_size": 16, "max_length": 384, "logging_steps": 50, "save_steps": 10 ** 6,
                  "quiet": True, "seed": args.seed}
    stage("SFT from adapted", lambda: sft(SFTConfig(model=str(adapted), output_dir=str(out / "sft-adapted"),
                                                    **sft_common)))
    stage("SFT from base", lambda: sft(SFTConfig(model=str(base), output_dir=str(out / "sft-base"), **sft_common)))

    from sentinel.models import load_causal_lm

    tok = load_causal_lm(str(base))[1]
    qa_texts = [tok.apply_chat_template([{"role": "user", "content": q["prompt"]},
                                         {"role": "assistant", "content": q["completion"]}], tokenize=False)
                for q in qa_held]
    med_held_texts = [d["text"] for d in med_held]

    def ppl(folder, texts):
        return perplexity(str(folder), texts, block_size=args.block_size)["perplexity"]

    table = {name: {"medical held-out": ppl(folder, med_held_texts), "general held-out": ppl(folder, gen_held),
                    "held-out QA (chat)": ppl(folder, qa_texts)}
             for name, folder in (("base (general)", base), ("adapted (medical)", adapted),
                                  ("base + SFT", out / "sft-base"), ("adapted + SFT", out / "sft-adapted"))}
    print(f"\nperplexity (block {args.block_size}, stride {args.block_size // 2}), seed {args.seed}, "
          f"threads {args.threads}")
    print(f"{'model':<20} {'medical held-out':>17} {'general held-out':>17} {'held-out QA (chat)':>19}")
    for name, row in table.items():
        print(f"{name:<20} {row['medical held-out']:>17.2f} {row['general held-out']:>17.2f} "
              f"{row['held-out QA (chat)']:>19.2f}")
    print(f"adapt run: domain {m['domain_perplexity_before']:.2f} -> {m['domain_perplexity']:.2f}, general "
          f"{m['general_perplexity_before']:.2f} -> {m['general_perplexity']:.2f} "
          f"(x{m['general_perplexity_ratio']:.2f})")
    (out / "result.json").write_text(json.dumps({"args": vars(args), "table": table, "adapt_metrics": m,
                                                 "seconds": timings}, indent=1))


if __name__ == "__main__":
    main()
