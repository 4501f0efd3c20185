"""Tiny models built from configs, with a locally trained tokenizer: nothing is downloaded.

Used by the tests and by the built-in lab. The tokenizer is a byte-level BPE (lossless: decode(encode(x)) == x)
wrapped in `PreTrainedTokenizerFast`, with pad/bos/eos tokens and a chat template, saved like any HF tokenizer.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

SPECIAL_TOKENS = ["<pad>", "<s>", "<|end|>", "<|system|>", "<|user|>", "<|assistant|>"]

# `{% generation %}` marks assistant text so TRL's assistant_only_loss can mask everything else.
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|' + message['role'] + '|>' }}"
    "{% if message['role'] == 'assistant' %}{% generation %}{{ message['content'] + '<|end|>' }}{% endgeneration %}"
    "{% else %}{{ message['content'] + '<|end|>' }}{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|assistant|>' }}{% endif %}"
)


def train_tokenizer(texts: Iterable[str], vocab_size: int = 2048, min_frequency: int = 1):
    """A byte-level BPE tokenizer trained on `texts`, with special tokens and the chat template set."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=min_frequency,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, pad_token="<pad>", bos_token="<s>", eos_token="<|end|>",
        additional_special_tokens=["<|system|>", "<|user|>", "<|assistant|>"],
    )
    fast.chat_template = CHAT_TEMPLATE
    fast.padding_side = "right"
    return fast


@dataclass
class TinyConfig:
    """Size of a tiny Llama-style model. Defaults give about 0.2M parameters plus the embeddings."""

    hidden_size: int = field(default=64, metadata={"help": "width of the residual stream"})
    num_hidden_layers: int = field(default=2, metadata={"help": "transformer blocks"})
    num_attention_heads: int = field(default=4, metadata={"help": "attention heads (hidden_size must divide)"})
    intermediate_size: int = field(default=128, metadata={"help": "MLP width"})
    max_position_embeddings: int = field(default=256, metadata={"help": "longest sequence in tokens"})
    tie_word_embeddings: bool = field(default=True, metadata={"help": "share input and output embeddings"})


def _llama_config(tokenizer, cfg: TinyConfig | None, **overrides):
    from transformers import LlamaConfig

    cfg = cfg or TinyConfig()
    kw = {
        "vocab_size": len(tokenizer),
        "hidden_size": cfg.hidden_size,
        "num_hidden_layers": cfg.num_hidden_layers,
        "num_attention_heads": cfg.num_attention_heads,
        "num_key_value_heads": cfg.num_attention_heads,
        "intermediate_size": cfg.intermediate_size,
        "max_position_embeddings": cfg.max_position_embeddings,
        "tie_word_embeddings": cfg.tie_word_embeddings,
        "pad_token_id": tokenizer.pad_token_id,
        "bos_token_id": tokenizer.bos_token_id,
        "eos_token_id": tokenizer.eos_token_id,
    }
    kw.update(overrides)
    return LlamaConfig(**kw)


def build_causal_lm(tokenizer, cfg: TinyConfig | None = None, seed: int = 0):
    """A freshly initialised tiny `LlamaForCausalLM` whose vocabulary matches `tokenizer`."""
    import torch
    from transformers import LlamaForCausalLM

    torch.manual_seed(seed)
    model = LlamaForCausalLM(_llama_config(tokenizer, cfg))
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    return model


def build_reward_model(tokenizer, cfg: TinyConfig | None = None, seed: int = 0):
    """A freshly initialised tiny `LlamaForSequenceClassification` with one label (the scalar reward)."""
    import torch
    from transformers import LlamaForSequenceClassification

    torch.manual_seed(seed)
    return LlamaForSequenceClassification(_llama_config(tokenizer, cfg, num_labels=1))


def add_blocks(model, n: int, seed: int = 0):
    """A copy of a Llama-family `model` with `n` fresh transformer blocks on top of its own; returns the new model.

    The new blocks start as the identity (their attention output and MLP down projections are zero), so the grown
    model computes exactly what `model` did until training moves them. Used for lab reward models: a reward model
    started from the SFT policy reads its score at the last token, and a 2-block trunk does two things poorly: work
    out the right answer at the answer's position, and carry "the stated answer matches it" to the last token;
    with two more blocks the lab's clean reward model goes from 0.84 to 0.92 held-out accuracy (README "The lab").
    Raises ConfigError for models without `model.layers` of Llama blocks.
    """
    import copy

    import torch

    from ..errors import ConfigError

    if n < 1:
        raise ConfigError(f"must be at least 1, got {n}", field="blocks")
    layers = getattr(getattr(model, "model", None), "layers", None)
    if layers is None or not all(hasattr(b, "self_attn") and hasattr(b, "mlp") for b in layers):
        raise ConfigError(f"can only add blocks to Llama-style models (model.layers of attention + MLP blocks), "
                          f"got {type(model).__name__}", field="model")
    cfg = copy.deepcopy(model.config)
    old = cfg.num_hidden_layers
    cfg.num_hidden_layers = old + n
    if getattr(cfg, "layer_types", None):
        cfg.layer_types = list(cfg.layer_types) + [cfg.layer_types[-1]] * n
    torch.manual_seed(seed)
    grown = type(model)(cfg)
    missing, unexpected = grown.load_state_dict(model.state_dict(), strict=False)
    fresh = {k for k in missing if not k.startswith(tuple(f"model.layers.{i}." for i in range(old, old + n)))}
    if unexpected or fresh:
        raise ConfigError(f"weights did not carry over (missing {sorted(fresh)[:3]}, unexpected "
                          f"{sorted(unexpected)[:3]})", field="model")
    for block in grown.model.layers[old:]:
        torch.nn.init.zeros_(block.self_attn.o_proj.weight)
        torch.nn.init.zeros_(block.mlp.down_proj.weight)
    return grown.to(next(model.parameters()).device, next(model.parameters()).dtype)
