"""What an audit scores: any reward form as one `RewardFunction`, plus the DPO implicit reward.

`as_target(x)` accepts everything `sentinel.models.as_reward_fn` does, and a `(policy, reference, tokenizer)`
triple, which is scored by the DPO implicit reward. `CachedScorer` makes sure no (prompt, response) is scored twice
during an audit: probes reuse the originals, and the attack re-scores many of the same texts.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ..models import RewardFunction, as_reward_fn, format_for_reward

if TYPE_CHECKING:
    from .models.protocols import RewardSource, TokenizerSource

logger = logging.getLogger(__name__)


class DPOImplicitReward(RewardFunction):
    """The implicit reward of a DPO policy: sum over response tokens of log pi(token) - log pi_ref(token).

    This is how RewardBench scores DPO models (without beta, which only rescales). The prompt is rendered with
    the tokenizer's chat template (`format_for_reward`); response tokens are those after the rendered prompt.
    Written by hand because no library exposes it as a reward function over (prompt, response) strings.
    """

    def __init__(self, policy, reference, tokenizer, *, batch_size: int = 16, max_length: int = 1024):
        self.policy = policy.eval()
        self.reference = reference.eval()
        self.tokenizer = tokenizer
        self.batch_size = batch_size
        self.max_length = max_length
        self.name = f"dpo({getattr(policy.config, '_name_or_path', '') or type(policy).__name__})"

    def _encode(self, prompt: str, response: str) -> tuple[list[int], int]:
        tok = self.tokenizer
        full = tok(format_for_reward(tok, prompt, response), add_special_tokens=False)["input_ids"]
        if getattr(tok, "chat_template", None):
            head = tok.apply_chat_template([{"role": "user", "content": prompt}], tokenize=False,
                                           add_generation_prompt=True)
        else:
            head = f"{prompt}\n\n"
        n_prompt = len(tok(head, add_special_tokens=False)["input_ids"])
        # Keep the response whole: drop prompt tokens from the left when the text is too long.
        cut = max(0, len(full) - self.max_length)
        return full[cut:], max(1, n_prompt - cut)

    def score(self, prompts, responses):
        import torch

        encoded = [self._encode(p, r) for p, r in zip(prompts, responses)]
        order = sorted(range(len(encoded)), key=lambda i: len(encoded[i][0]))
        out = [0.0] * len(encoded)
        pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0
        device = next(self.policy.parameters()).device
        with torch.inference_mode():
            for start in range(0, len(order), self.batch_size):
                idx = order[start : start + self.batch_size]
                width = max(len(encoded[i][0]) for i in idx)
                ids = torch.full((len(idx), width), pad, dtype=torch.long)
                mask = torch.zeros((len(idx), width), dtype=torch.long)
                resp = torch.zeros((len(idx), width), dtype=torch.bool)
                for row, i in enumerate(idx):
                    seq, n_prompt = encoded[i]
                    ids[row, : len(seq)] = torch.tensor(seq)
                    mask[row, : len(seq)] = 1
                    resp[row, n_prompt : len(seq)] = True
                ids, mask, resp = ids.to(device), mask.to(device), resp.to(device)
                logps = [_token_logps(m, ids, mask) for m in (self.policy, self.reference)]  # each (B, T-1)
                ratio = ((logps[0] - logps[1]) * resp[:, 1:]).sum(dim=1)  # (B,)
                for row, i in enumerate(idx):
                    out[i] = float(ratio[row])
        return out


def _token_logps(model, ids, mask):
    """log p(ids[:, t] | ids[:, :t]) for t >= 1: shape (B, T-1)."""
    import torch

    logits = model(input_ids=ids, attention_mask=mask).logits[:, :-1].float()  # (B, T-1, V)
    return torch.log_softmax(logits, dim=-1).gather(-1, ids[:, 1:, None]).squeeze(-1)


def as_target(reward_model: RewardSource, tokenizer: TokenizerSource | None = None, **kw: Any) -> RewardFunction:
    """Any reward form `as_reward_fn` takes, or `(policy, reference, tokenizer)` for a DPO policy."""
    if isinstance(reward_model, tuple) and len(reward_model) == 3:
        policy, reference, tok = reward_model
        return DPOImplicitReward(policy, reference, tok, batch_size=kw.get("batch_size", 16))
    return as_reward_fn(reward_model, tokenizer, **kw)


class CachedScorer:
    """Scores (prompt, response) pairs through a RewardFunction, each distinct pair once per audit."""

    def __init__(self, reward_fn: RewardFunction):
        self.reward_fn = reward_fn
        self.cache: dict[tuple[str, str], float] = {}
        self.calls = 0  # distinct pairs sent to the reward function

    def __call__(self, prompts: Sequence[str], responses: Sequence[str]) -> np.ndarray:
        keys = list(zip(prompts, responses))
        todo = list(dict.fromkeys(k for k in keys if k not in self.cache))
        if todo:
            values = self.reward_fn([p for p, _ in todo], [r for _, r in todo])
            self.cache.update(zip(todo, values))
            self.calls += len(todo)
            logger.debug("scored %d new texts (%d cached)", len(todo), len(self.cache))
        return np.array([self.cache[k] for k in keys], dtype=float)
