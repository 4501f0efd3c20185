"""Perplexity of a causal LM on documents, with a sliding window for documents longer than the window.

Each document is tokenized alone (no special tokens added) and scored in windows of `block_size` tokens that start
every `stride` tokens; a token is scored once, in the first window that reaches it, with every token of that window
before it as context (the method of the transformers perplexity guide). A token with no context in its window is
not scored: the first token of a document, and with `stride = block_size` the first token of every window. The
result pools every scored token of every document:

    perplexity = exp(sum of negative log-likelihoods / number of scored tokens)

so long documents weigh by their length. `stride = block_size` gives disjoint windows (fastest, least context);
a smaller stride gives each scored token more context and a lower, truer figure.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError

if TYPE_CHECKING:
    from .protocols import ModelSource, TokenizerSource


def windows(n: int, block_size: int, stride: int) -> list[tuple[int, int, int]]:
    """(begin, end, first scored position) of each window over a document of `n` tokens."""
    out, prev_end = [], 1  # token 0 is never scored
    for begin in range(0, max(n - 1, 1), stride):
        end = min(begin + block_size, n)
        if end > prev_end:
            out.append((begin, end, max(prev_end, begin + 1)))
            prev_end = end
        if end == n:
            break
    return out


def perplexity(model: ModelSource, texts: Sequence[str], *, tokenizer: TokenizerSource | None = None,
               block_size: int | None = None, stride: int | None = None, batch_size: int = 8,
               device: str | None = None) -> dict[str, Any]:
    """Perplexity of `model` (a folder or a loaded causal LM with `tokenizer`) on `texts` (module docstring).

    block_size: tokens per window (default: the model's context length, at most 1024); stride: the step between
    windows (default: half the block). Returns {"perplexity", "nll_per_token", "tokens_scored", "documents",
    "documents_too_short", "block_size", "stride"}."""
    import torch

    from .loading import load_causal_lm

    lm, tok = load_causal_lm(model, tokenizer=tokenizer, device=device)
    context = getattr(lm.config, "max_position_embeddings", None) or 1024
    block = block_size or min(int(context), 1024)
    stride = stride or max(1, block // 2)
    if block < 2 or block > context:
        raise ConfigError(f"got {block}; expected 2 to the model's context length {context}", field="block_size")
    if not 1 <= stride <= block:
        raise ConfigError(f"got {stride}; expected 1 to block_size ({block})", field="stride")
    dev = next(lm.parameters()).device
    pieces, short = [], 0  # (input ids, first scored position in the piece)
    for text in texts:
        ids = tok(text, add_special_tokens=False)["input_ids"]
        if len(ids) < 2:
            short += 1
            continue
        pieces += [(ids[b:e], s - b) for b, e, s in windows(len(ids), block, stride)]
    nll, count = 0.0, 0
    was_training = lm.training
    lm.eval()
    pad = tok.pad_token_id if tok.pad_token_id is not None else 0
    try:
        with torch.inference_mode():
            for i in range(0, len(pieces), batch_size):
                batch = pieces[i:i + batch_size]
                width = max(len(p) for p, _ in batch)
                ids = torch.full((len(batch), width), pad, dtype=torch.long)
                mask = torch.zeros((len(batch), width), dtype=torch.long)
                scored = torch.zeros((len(batch), width), dtype=torch.bool)
                for j, (p, first) in enumerate(batch):
                    ids[j, :len(p)] = torch.tensor(p)
                    mask[j, :len(p)] = 1
                    scored[j, first:len(p)] = True
                logits = lm(input_ids=ids.to(dev), attention_mask=mask.to(dev)).logits.float()
                logp = torch.log_softmax(logits[:, :-1], dim=-1)
                target = ids[:, 1:].to(dev)
                tok_logp = logp.gather(-1, target.unsqueeze(-1)).squeeze(-1)
                keep = scored[:, 1:].to(dev)
                nll -= float(tok_logp[keep].sum())
                count += int(keep.sum())
    finally:
        lm.train(was_training)
    per_token = nll / count if count else math.nan
    return {"perplexity": math.exp(per_token) if count else math.nan, "nll_per_token": per_token,
            "tokens_scored": count, "documents": len(texts) - short, "documents_too_short": short,
            "block_size": block, "stride": stride}
