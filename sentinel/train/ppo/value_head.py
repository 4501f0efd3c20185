"""The policy and its value head as one module: one trunk pass gives next-token logits and state values.

Why a value head on the policy trunk (classic TRL) and not a separate critic (OpenRLHF, verl): on the CPUs and single
GPUs this project targets, a second network would double the memory and the forward/backward cost of every PPO
mini-batch. The price is that policy and value gradients share the trunk; `vf_coef` (0.1, as classic TRL) keeps
the value loss from dominating it.

Only response positions are projected onto the vocabulary: the lm_head over a 30k vocabulary is the most
expensive op of a small model, and the prompt positions' logits are never used.
"""

from __future__ import annotations

import torch
from torch import nn


def base_causal_lm(model):
    """The plain `*ForCausalLM` inside a model that may be wrapped by PEFT."""
    get_base = getattr(model, "get_base_model", None)
    return get_base() if callable(get_base) else model


class PolicyWithValue(nn.Module):
    """`policy` (a causal LM, possibly a PEFT model) plus `v_head`, a linear map hidden state -> scalar value."""

    def __init__(self, policy):
        super().__init__()
        self.policy = policy
        lm = base_causal_lm(policy)
        hidden = lm.config.get_text_config().hidden_size
        self.v_head = nn.Linear(hidden, 1)
        # A zero-initialised head predicts 0 for every state: the first advantages are then the plain returns.
        nn.init.zeros_(self.v_head.weight)
        nn.init.zeros_(self.v_head.bias)
        param = next(lm.parameters())
        self.v_head.to(device=param.device, dtype=torch.float32)

    def forward(self, input_ids, attention_mask, position_ids, n_response: int, with_values: bool = True):
        """Logits (B, R, V) and values (B, R) for the states that predict the last `n_response` tokens.

        The input is [left-padded prompt | right-padded response]; position R-1 of the outputs is the state just
        before response token R-1, so logits[:, i] scores input_ids[:, -n_response + i].
        """
        return trunk_forward(self.policy, input_ids, attention_mask, position_ids, n_response,
                             v_head=self.v_head if with_values else None)


def trunk_forward(model, input_ids, attention_mask, position_ids, n_response: int, v_head=None):
    """Run the decoder once, project only the response states: (logits (B, R, V), values (B, R) or None)."""
    lm = base_causal_lm(model)
    hidden = lm.get_decoder()(input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids,
                              use_cache=False).last_hidden_state  # (B, P + R, H)
    states = hidden[:, -n_response - 1 : -1]  # (B, R, H)
    logits = lm.get_output_embeddings()(states)  # (B, R, V)
    values = v_head(states.to(v_head.weight.dtype)).squeeze(-1) if v_head is not None else None
    return logits, values
