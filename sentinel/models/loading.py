"""Loading causal LMs, reward models and tokenizers safely.

Security defaults: `trust_remote_code=False` unless the caller opts in, and only safetensors weights unless
`allow_pickle=True` (a pickled `.bin`/`.pt` checkpoint can run arbitrary code when it is loaded).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from ..errors import ModelLoadError
from ..utils import looks_local, not_found_message

logger = logging.getLogger(__name__)

PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".pkl")


def resolve_device(device: str | None = None) -> str:
    """`device` if given, else the best available: cuda, then mps, then cpu."""
    import torch

    if device and device != "auto":
        return device
    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def resolve_dtype(device: str, dtype: str | None = None):
    """`dtype` by name if given; else bfloat16 on GPUs that support it, float32 elsewhere (CPU bf16 is slow)."""
    import torch

    if dtype and dtype != "auto":
        try:
            return getattr(torch, dtype)
        except AttributeError:
            raise ModelLoadError(f"unknown dtype '{dtype}'; use float32, float16 or bfloat16") from None
    if device.startswith("cuda") and torch.cuda.is_available() and torch.cuda.is_bf16_supported():
        return torch.bfloat16
    return torch.float32


def check_weights_safe(path: str | os.PathLike, allow_pickle: bool = False) -> None:
    """Refuse a local checkpoint whose only weights are pickled, unless `allow_pickle`."""
    p = Path(path)
    if not p.is_dir():
        return
    files = [f.name for f in p.iterdir() if f.is_file()]
    has_safe = any(f.endswith(".safetensors") for f in files)
    pickled = [f for f in files if f.endswith(PICKLE_SUFFIXES) and f != "training_args.bin"]
    if pickled and not has_safe and not allow_pickle:
        raise ModelLoadError(
            f"{p} holds only pickled weights ({', '.join(sorted(pickled))}). Loading a pickle can execute arbitrary "
            "code, so sentinel refuses it by default. Convert the checkpoint to safetensors, or opt in with "
            "--allow-pickle (Python: allow_pickle=True) if you trust its source."
        )


def _check_source(name_or_path: str) -> None:
    if Path(name_or_path).exists():
        return
    if looks_local(name_or_path):
        raise ModelLoadError(not_found_message(name_or_path))
    if os.environ.get("HF_HUB_OFFLINE") == "1" or os.environ.get("TRANSFORMERS_OFFLINE") == "1":
        raise ModelLoadError(
            f"'{name_or_path}' is not a local folder, and the hub is offline (HF_HUB_OFFLINE=1). "
            "Give the path of a folder written by save_pretrained."
        )


def load_pretrained(cls, name_or_path: str, *, allow_pickle: bool, trust_remote_code: bool, **kw):
    """`cls.from_pretrained(name_or_path, **kw)` behind the safety checks every model load goes through: the source
    must be a folder or a Hub name, pickled weights are refused unless `allow_pickle`, `trust_remote_code` is logged
    as a warning; a failure is a ModelLoadError naming the class and the source."""
    _check_source(str(name_or_path))
    check_weights_safe(name_or_path, allow_pickle)
    if trust_remote_code:
        logger.warning("trust_remote_code=True: code from %s will run on this machine", name_or_path)
    try:
        return cls.from_pretrained(
            str(name_or_path), trust_remote_code=trust_remote_code, use_safetensors=None if allow_pickle else True, **kw
        )
    except ModelLoadError:
        raise
    except (OSError, ValueError, KeyError) as e:
        raise ModelLoadError(f"cannot load {cls.__name__} from '{name_or_path}': {e}") from None


def load_tokenizer(name_or_path: str | os.PathLike, *, trust_remote_code: bool = False,
                   padding_side: str | None = None):
    """A tokenizer from a folder (or hub name when online), with a pad token guaranteed."""
    from transformers import AutoTokenizer

    _check_source(str(name_or_path))
    try:
        tok = AutoTokenizer.from_pretrained(str(name_or_path), trust_remote_code=trust_remote_code)
    except (OSError, ValueError) as e:
        raise ModelLoadError(f"cannot load a tokenizer from '{name_or_path}': {e}") from None
    if tok.pad_token is None:
        if tok.eos_token is None:
            raise ModelLoadError(f"tokenizer at '{name_or_path}' has neither a pad nor an eos token")
        tok.pad_token = tok.eos_token
    if padding_side:
        tok.padding_side = padding_side
    return tok


def _place(model, device: str | None):
    dev = resolve_device(device)
    return model.to(dev)


def load_causal_lm(
    model: Any,
    *,
    tokenizer: Any = None,
    device: str | None = None,
    dtype: str | None = None,
    allow_pickle: bool = False,
    trust_remote_code: bool = False,
):
    """(model, tokenizer) for a causal LM given as a folder, a hub name (online) or an already loaded model.

    An already loaded model is returned as it is (not moved); its tokenizer is looked up from its folder
    when `tokenizer` is not given.
    """
    from transformers import AutoModelForCausalLM

    if not isinstance(model, (str, os.PathLike)):
        if tokenizer is None:
            tokenizer = load_tokenizer(model.config._name_or_path, trust_remote_code=trust_remote_code)
        return model, tokenizer
    dev = resolve_device(device)
    m = load_pretrained(
        AutoModelForCausalLM, str(model), allow_pickle=allow_pickle, trust_remote_code=trust_remote_code,
        dtype=resolve_dtype(dev, dtype),
    )
    tok = tokenizer if tokenizer is not None else load_tokenizer(model, trust_remote_code=trust_remote_code)
    if isinstance(tok, (str, os.PathLike)):
        tok = load_tokenizer(tok, trust_remote_code=trust_remote_code)
    return _place(m, dev), tok


def load_reward_model(
    model: Any,
    *,
    tokenizer: Any = None,
    device: str | None = None,
    dtype: str | None = None,
    allow_pickle: bool = False,
    trust_remote_code: bool = False,
    num_labels: int | None = 1,
):
    """(model, tokenizer) for a sequence-classification reward model (one output: the scalar reward)."""
    from transformers import AutoModelForSequenceClassification

    if not isinstance(model, (str, os.PathLike)):
        if tokenizer is None:
            tokenizer = load_tokenizer(model.config._name_or_path, trust_remote_code=trust_remote_code)
        return model, tokenizer
    dev = resolve_device(device)
    kw = {"num_labels": num_labels} if num_labels is not None else {}
    m = load_pretrained(
        AutoModelForSequenceClassification, str(model), allow_pickle=allow_pickle,
        trust_remote_code=trust_remote_code, dtype=resolve_dtype(dev, dtype), **kw,
    )
    tok = tokenizer if tokenizer is not None else load_tokenizer(model, trust_remote_code=trust_remote_code)
    if isinstance(tok, (str, os.PathLike)):
        tok = load_tokenizer(tok, trust_remote_code=trust_remote_code)
    if m.config.pad_token_id is None:
        m.config.pad_token_id = tok.pad_token_id
    return _place(m, dev), tok


def model_identity(model: Any) -> dict[str, Any]:
    """What a report records about a model: its path or class, parameter count, dtype."""
    if isinstance(model, (str, os.PathLike)):
        return {"path": str(model)}
    if callable(model) and not hasattr(model, "parameters"):
        name = getattr(model, "__qualname__", type(model).__name__)
        return {"callable": f"{getattr(model, '__module__', '?')}.{name}"}
    info: dict[str, Any] = {"class": type(model).__name__}
    cfg = getattr(model, "config", None)
    if cfg is not None:
        info["name_or_path"] = getattr(cfg, "_name_or_path", None)
    if hasattr(model, "parameters"):
        params = list(model.parameters())
        info["parameters"] = sum(p.numel() for p in params)
        if params:
            info["dtype"] = str(params[0].dtype)
    return info
