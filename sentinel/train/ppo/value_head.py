"""The policy and its value head as one module: one trunk pass gives next-token logits and state values.

Why a value head on the policy trunk (classic TRL) and not a separate critic (OpenRLHF, verl): on the CPUs and single
GPUs this project targets, a second network would double the memory and the forward/backward cost of every PPO
mini-batch. The price is that policy and value gradients share the trunk; `vf_coef` (0.1, as classic TRL) keeps
the value loss from dominating it.

Only response positions are projected onto the vocabulary, and only the sampled tokens' log-probs leave the
projection (`logprobs.py`): the lm_head over a 30k vocabulary is the most expensive op of a small model, and the
prompt positions' logits are never used.
"""

from __future__ import annotations

import torch
from torch import nn

from . import core
from .logprobs import fusable_head, token_logprobs


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

    def forward(self, input_ids, attention_mask, position_ids, response_ids, temperature: float = 1.0,
                with_entropy: bool = False):
        """Log-probs (B, R) of `response_ids` (B, R) under logits / `temperature`, values (B, R), and the
        per-token entropy (B, R) when `with_entropy` (else None).

        The input is [left-padded prompt | right-padded response]; position i of the outputs belongs to the state
        just before response token i (input_ids[:, -R + i]).
        """
        return response_logprobs(self.policy, input_ids, attention_mask, position_ids, response_ids, temperature,
                                 v_head=self.v_head, with_entropy=with_entropy)


def response_states(model, input_ids, attention_mask, position_ids, n_response: int) -> torch.Tensor:
    """Last hidden states (B, R, H) of the positions that predict the last `n_response` tokens."""
    lm = base_causal_lm(model)
    hidden = lm.get_decoder()(input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids,
                              use_cache=False).last_hidden_state  # (B, P + R, H)
    return hidden[:, -n_response - 1 : -1]


def response_logprobs(model, input_ids, attention_mask, position_ids, response_ids, temperature: float = 1.0,
                      v_head=None, with_entropy: bool = False):
    """Run the decoder once; return (logp (B, R), values (B, R) or None, entropy (B, R) or None).

    Only response states are projected onto the vocabulary, through the fused log-prob function
    (`logprobs.py`) when the model's head allows it and no entropy is asked for; otherwise through the model's
    own head and a log-softmax.
    """
    lm = base_causal_lm(model)
    states = response_states(model, input_ids, attention_mask, position_ids, response_ids.shape[1])
    values = v_head(states.to(v_head.weight.dtype)).squeeze(-1) if v_head is not None else None
    head = None if with_entropy else fusable_head(lm)
    if head is not None:
        return token_logprobs(states, head, response_ids, temperature), values, None
    logits = lm.get_output_embeddings()(states)  # (B, R, V)
    if temperature != 1.0:
        logits = logits / temperature
    logp = core.logprobs_of(logits, response_ids)
    return logp, values, core.entropy_of(logits) if with_entropy else None
