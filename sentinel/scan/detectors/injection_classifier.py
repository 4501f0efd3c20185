"""injection_classifier: a local Hugging Face sequence-classification model that scores replies for injections.

Off by default: it is not registered, so `scan()` runs it only when given an instance,

    from sentinel.scan.detectors.injection_classifier import InjectionClassifier

    det = InjectionClassifier("models/deberta-v3-base-prompt-injection-v2")   # a folder you already have
    scan(prompt, reply, detectors=["hidden_instruction", det])
    det.score_batch(pairs)                                                     # many pairs, `batch_size` at a time

It complements `hidden_instruction`, whose rules recognise the shapes they were written for: a classifier trained on
many injections may catch phrasings no rule names, at the price of a model forward pass per reply (LLM Guard's
figures for its prompt-injection scanner: REFERENCE.md).
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Sequence
from typing import Any

from ...errors import ConfigError
from ...report import Severity
from .base import Detector, Span, make_span

# Label names that mean "this text is an injection", for models whose config names its labels.
_POSITIVE = re.compile(r"inject|jailbreak|attack|malicious|unsafe|harmful", re.IGNORECASE)


class InjectionClassifier(Detector):
    """A local sequence-classification model's probability that the reply carries an instruction injection.

    Score: the model's probability of its injection label for the response (truncated to `max_length` tokens);
    with one output, the sigmoid of the logit. Evidence: the start of the response, family "classifier". Needs a
    model folder (for example a prompt-injection classifier the user already has); loads it on first use.
    Source: LLM Guard's PromptInjection scanner (protectai/llm-guard), which scores inputs with a fine-tuned
    DeBERTa classifier (protectai/deberta-v3-base-prompt-injection-v2).
    """

    id = "injection_classifier"
    threshold = 0.5
    severity = Severity.HIGH

    def __init__(self, model: Any, *, tokenizer: Any = None, label: str | int | None = None, batch_size: int = 16,
                 max_length: int = 512, device: str | None = None, allow_pickle: bool = False,
                 trust_remote_code: bool = False):
        # Only stores its arguments; the model is loaded on first use (`model_`, `tokenizer_`, `label_index_`).
        self.model = model
        self.tokenizer = tokenizer
        self.label = label
        self.batch_size = batch_size
        self.max_length = max_length
        self.device = device
        self.allow_pickle = allow_pickle
        self.trust_remote_code = trust_remote_code
        if batch_size < 1:
            raise ConfigError(f"batch_size must be at least 1, got {batch_size!r}", field="batch_size")
        if max_length < 8:
            raise ConfigError(f"max_length must be at least 8 tokens, got {max_length!r}", field="max_length")

    def _load(self) -> None:
        if hasattr(self, "model_"):
            return
        from ...models import load_reward_model

        source = str(self.model) if isinstance(self.model, (str, os.PathLike)) else self.model
        model, tok = load_reward_model(source, tokenizer=self.tokenizer, device=self.device, num_labels=None,
                                       allow_pickle=self.allow_pickle, trust_remote_code=self.trust_remote_code)
        model.eval()
        self.model_, self.tokenizer_ = model, tok
        self.label_index_ = self._label_index(model.config)

    def _label_index(self, config: Any) -> int:
        """The output that means "injection": `label` (a name or index), a label whose name says so, or the last."""
        n = int(getattr(config, "num_labels", 1))
        names = {int(i): str(name) for i, name in (getattr(config, "id2label", None) or {}).items()}
        if isinstance(self.label, int):
            if not 0 <= self.label < n:
                raise ConfigError(f"label {self.label} is out of range for a model with {n} outputs", field="label")
            return self.label
        if isinstance(self.label, str):
            for i, name in names.items():
                if name.lower() == self.label.lower():
                    return i
            raise ConfigError(f"no label named '{self.label}'; the model has {sorted(names.values())}", field="label")
        matching = [i for i, name in names.items() if _POSITIVE.search(name)]
        return matching[0] if len(matching) == 1 else n - 1

    def probabilities(self, texts: Sequence[str]) -> list[float]:
        """The injection probability of each text, in [0, 1], computed `batch_size` texts at a time."""
        import torch

        self._load()
        out: list[float] = []
        for start in range(0, len(texts), self.batch_size):
            batch = [t if t.strip() else " " for t in texts[start:start + self.batch_size]]
            enc = self.tokenizer_(batch, return_tensors="pt", padding=True, truncation=True,
                                  max_length=self.max_length).to(self.model_.device)
            with torch.no_grad():
                logits = self.model_(**enc).logits.float()  # (B, num_labels)
            if logits.shape[-1] == 1:
                probs = torch.sigmoid(logits[:, 0])
            else:
                probs = torch.softmax(logits, dim=-1)[:, self.label_index_]
            out.extend(p if math.isfinite(p) else 0.0 for p in probs.tolist())
        return out

    def score_batch(self, pairs: Sequence[tuple[str, str]]) -> list[tuple[float, Span | None]]:
        """`score` for many (prompt, response) pairs, batched through the model."""
        probs = self.probabilities([response for _, response in pairs])
        return [(float(min(1.0, max(0.0, p))), make_span("response", r, 0, len(r), "classifier") if r else None)
                for p, (_, r) in zip(probs, pairs)]

    def score(self, prompt: str, response: str) -> tuple[float, Span | None]:
        return self.score_batch([(prompt, response)])[0]
