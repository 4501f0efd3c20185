"""Fast multinomial sampling for `generate()`, plugged in as a logits processor.

`torch.multinomial` on CPU draws one random number per vocabulary entry, which over a large vocabulary is most
of a small model's generation time; inverse-CDF sampling needs one uniform number per row (cumsum +
searchsorted) and draws from exactly the same distribution (the generation share of a PPO step is measured by
benchmarks/ppo_vs_trl.py). HF generate runs in greedy mode with this processor last: the processor applies temperature,
top-k and top-p with transformers' own warpers, samples, and leaves only the sampled token finite, so the greedy
argmax returns the sample. Processors generate adds itself (min_new_tokens, bad words, ...) run before it.
"""

from __future__ import annotations

import torch
from transformers import (
    LogitsProcessor,
    LogitsProcessorList,
    TemperatureLogitsWarper,
    TopKLogitsWarper,
    TopPLogitsWarper,
)


class InverseCDFSampler(LogitsProcessor):
    def __init__(self, temperature: float = 1.0, top_k: int = 0, top_p: float = 1.0):
        warpers: list[LogitsProcessor] = []
        if temperature != 1.0:
            warpers.append(TemperatureLogitsWarper(temperature))
        if top_k:
            warpers.append(TopKLogitsWarper(top_k))
        if top_p < 1.0:
            warpers.append(TopPLogitsWarper(top_p))
        self.warpers = LogitsProcessorList(warpers)

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        scores = self.warpers(input_ids, scores)  # type: ignore[assignment]
        probs = torch.softmax(scores.float(), dim=-1)  # (B, V)
        cdf = probs.cumsum(-1)
        u = torch.rand(cdf.shape[0], 1, device=cdf.device, dtype=cdf.dtype) * cdf[:, -1:]
        picked = torch.searchsorted(cdf, u).clamp_(max=scores.shape[-1] - 1)  # (B, 1)
        # searchsorted can land on a zero-probability token only at a float rounding edge of the cdf; then take
        # the row's most likely token (checked first: the argmax over the vocabulary is rarely needed).
        zero = probs.gather(-1, picked) <= 0
        if zero.any():
            picked = torch.where(zero, probs.argmax(-1, keepdim=True), picked)
        # Not in place: generate() keeps the tensor it passed in as the raw logits (output_logits=True).
        out = torch.full_like(scores, float("-inf"))
        return out.scatter_(-1, picked, 0.0)  # type: ignore[return-value]
