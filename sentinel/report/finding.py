"""`Finding`: the one shape every auditor, checker and `scan` reports in."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from enum import Enum
from typing import Any


class Severity(str, Enum):
    INFO = "info"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return _RANK[self]

    @classmethod
    def parse(cls, value: str | Severity) -> Severity:
        from ..errors import ConfigError

        if isinstance(value, Severity):
            return value
        try:
            return cls(str(value).lower())
        except ValueError:
            raise ConfigError(
                f"unknown severity {value!r}; expected one of {', '.join(s.value for s in cls)}",
                field="severity",
            ) from None

    def __ge__(self, other):
        return self.rank >= Severity.parse(other).rank

    def __gt__(self, other):
        return self.rank > Severity.parse(other).rank

    def __le__(self, other):
        return self.rank <= Severity.parse(other).rank

    def __lt__(self, other):
        return self.rank < Severity.parse(other).rank


_RANK = {s: i for i, s in enumerate(Severity)}


@dataclass
class Effect:
    """An effect size with its 95% confidence interval (`low`, `high`); `name` says what was measured."""

    name: str
    value: float
    low: float | None = None
    high: float | None = None
    unit: str = ""

    def __str__(self) -> str:
        ci = f" [95% CI {self.low:.3g}, {self.high:.3g}]" if self.low is not None and self.high is not None else ""
        unit = f" {self.unit}" if self.unit else ""
        return f"{self.name} = {self.value:.3g}{unit}{ci}"


@dataclass
class Finding:
    """One thing an audit found.

    `id` is the probe/detector/check id (e.g. "verbosity"); `score` in [0, 1] says how strongly it fired;
    `confidence` in [0, 1] how sure we are that it is real; `evidence` holds the concrete texts (with their
    scores where they have one) that show it; `data` holds any further numbers, JSON-serialisable.
    """

    id: str
    severity: Severity
    description: str
    score: float = 1.0
    confidence: float = 1.0
    effect: Effect | None = None
    evidence: list[Any] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self):
        self.severity = Severity.parse(self.severity)
        for name in ("score", "confidence"):
            v = float(getattr(self, name))
            if not (0.0 <= v <= 1.0) or math.isnan(v):
                raise ValueError(f"Finding.{name} must lie in [0, 1], got {v!r} (finding '{self.id}')")
            setattr(self, name, v)
        if isinstance(self.effect, dict):
            self.effect = Effect(**self.effect)

    def __str__(self) -> str:
        return self.description

    def __repr__(self) -> str:
        return f"Finding(id={self.id!r}, severity={self.severity.value!r}, description={self.description!r})"

    def __eq__(self, other):
        # A finding compares equal to its id, so `"verbosity" in result.vulnerabilities` reads naturally.
        if isinstance(other, str):
            return other == self.id
        if isinstance(other, Finding):
            return self.to_dict() == other.to_dict()
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["severity"] = self.severity.value
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Finding:
        return cls(**d)
