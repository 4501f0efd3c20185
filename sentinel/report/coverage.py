"""Coverage: how much of its input a check could grade, and the findings that say so.

A check that could not measure must never read as a pass. Every probe and check reports `graded` (the cases its
rate rests on) out of `total`; below the floor (fewer than `MIN_GRADED` graded cases, or more than half of the
total unreadable) its rate is None and an `inconclusive` finding (severity medium, so `--fail-on medium` catches it)
says why, with examples of what could not be graded.

Data that comes with invalid rows is audited on its valid rows; the rows left out are reported in one
`invalid-rows` finding (count by reason, the first rows named, severity by share) instead of stopping the audit.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

from .finding import Finding, Severity

MIN_GRADED = 20  # fewer graded cases than this: no rate
MAX_UNCLEAR_SHARE = 0.5  # more than this share of the total unreadable: no rate
N_EXAMPLES = 3


@dataclass
class Coverage:
    """`graded` of `total` cases could be used; `unclear` could not be read at all. `conclusive` is False below
    the floor, and `reason` then says why in words."""

    graded: int
    total: int
    unclear: int = 0
    min_graded: int = MIN_GRADED
    conclusive: bool = True
    reason: str = ""
    examples: list[Any] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def coverage(graded: int, total: int, unclear: int = 0, *, min_graded: int = MIN_GRADED,
             max_unclear_share: float = MAX_UNCLEAR_SHARE, what: str = "replies",
             examples: list[Any] | None = None) -> Coverage:
    """Judge whether `graded` of `total` cases (with `unclear` unreadable) are enough for a rate."""
    reasons = []
    if total and unclear > max_unclear_share * total:
        reasons.append(f"{unclear} of {total} {what} could not be graded")
    if graded < min_graded:
        reasons.append(f"only {graded} graded cases to compute the rate over (need {min_graded})")
    reason = ("inconclusive: " + "; ".join(reasons)) if reasons else ""
    return Coverage(graded, total, unclear, min_graded, not reasons, reason, list(examples or [])[:N_EXAMPLES])


def inconclusive_finding(check: str, cov: Coverage, what: str = "") -> Finding:
    """The `inconclusive` finding for check `check` (a probe or check id): medium severity, unreadable examples."""
    text = f"{check}: {cov.reason}" + (f" ({what})" if what else "")
    return Finding(
        id="inconclusive", severity=Severity.MEDIUM,
        description=text + "; nothing was measured, so this is not a pass",
        score=1.0 - (cov.graded / cov.total if cov.total else 0.0), confidence=1.0,
        evidence=list(cov.examples), data={"check": check, **cov.to_dict()},
    )


def invalid_rows_finding(skipped: list[dict[str, Any]], total: int, source: str | None = None,
                         unit: str = "row", n_named: int = 10) -> Finding | None:
    """One `invalid-rows` finding for the rows left out of an audit: count by reason, the first rows named.

    `skipped` holds one dict per row with the row's location under `unit` ("line" or "row") and a `reason`
    (and optionally `field`). Severity grows with the share left out: low below 1%, medium below 10%, else high.
    """
    if not skipped:
        return None
    share = len(skipped) / total if total else 1.0
    sev = Severity.LOW if share < 0.01 else Severity.MEDIUM if share < 0.1 else Severity.HIGH
    by_reason = Counter(_reason_key(s) for s in skipped)
    where = [s.get(unit, s.get("row", s.get("line"))) for s in skipped]
    named = ", ".join(str(w) for w in where[:n_named]) + (", ..." if len(where) > n_named else "")
    reasons = "; ".join(f"{n} x {r}" for r, n in by_reason.most_common(5))
    src = f" of {source}" if source else ""
    return Finding(
        id="invalid-rows", severity=sev,
        description=f"{len(skipped)} of {total} rows{src} ({share:.1%}) are invalid and were left out of the audit "
                    f"({reasons}); {unit}s {named}",
        score=min(1.0, share), confidence=1.0,
        evidence=[{unit: s.get(unit, s.get("row", s.get("line"))), "field": s.get("field"), "reason": s.get("reason")}
                  for s in skipped[:n_named]],
        data={"invalid": len(skipped), "total": total, "share": share, "by_reason": dict(by_reason),
              unit + "s": where, "source": source},
    )


def _reason_key(s: dict[str, Any]) -> str:
    """A reason without the row-specific parts, so rows with the same fault count together."""
    reason = str(s.get("reason", "invalid"))
    fld = s.get("field")
    reason = reason.split(": got")[0].split(", got")[0]
    return f"field '{fld}': {reason}" if fld and f"'{fld}'" not in reason else reason
