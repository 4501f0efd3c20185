"""`scan()`: score one prompt/response pair with every detector and say which ones fire."""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..errors import ConfigError, DataError
from ..report import Finding, Report
from .detectors import DETECTORS, Detector, Span
from .detectors.base import lowered
from .matching import PATTERNS, PairCache, active, resolve_matcher, using

# One instance per detector class: detectors hold no state, and building them per call would cost throughput.
_INSTANCES: dict[type, Detector] = {}


@dataclass
class ScanResult:
    """What `scan()` found in one text.

    `scores` maps every detector run to its score in [0, 1]; `thresholds` the threshold each was judged by;
    `findings` holds one `Finding` per detector at or above its threshold (evidence = the matching span);
    `flagged` is True when there is any finding.
    """

    scores: dict[str, float]
    thresholds: dict[str, float]
    findings: list[Finding] = field(default_factory=list)

    @property
    def flagged(self) -> bool:
        return bool(self.findings)

    def to_dict(self) -> dict[str, Any]:
        return {"flagged": self.flagged, "scores": self.scores, "thresholds": self.thresholds,
                "findings": [f.to_dict() for f in self.findings]}

    def to_report(self, title: str = "scan") -> Report:
        """The result as a `Report` (kind "scan") so it can be saved and judged by `--fail-on` like an audit.

        Each finding's evidence is one row in the shape a file scan's report uses: `{detector, field, score,
        evidence, start, end}` (`field`: prompt or response)."""
        findings = [Finding(id=f.id, severity=f.severity, description=f.description, score=f.score,
                            confidence=f.confidence, effect=f.effect, data={**f.data, "rule": f.description},
                            evidence=[{"detector": f.id, "field": f.data.get("field"), "score": round(f.score, 4),
                                       "evidence": e, "start": f.data.get("start"), "end": f.data.get("end")}
                                      for e in f.evidence])
                    for f in self.findings]
        return Report(kind="scan", title=title, findings=findings,
                      metrics={"flagged": self.flagged, "scores": self.scores},
                      config={"thresholds": self.thresholds})


def _check_text(value: Any, name: str) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, (bytes, bytearray)):
        raise DataError("expected text (str), got bytes; decode it first, e.g. value.decode('utf-8')", field=name)
    raise DataError(f"expected a string, got {type(value).__name__}", field=name)


def resolve_detectors(detectors: Iterable[str | Detector | type] | None) -> list[Detector]:
    """Detector instances for names, classes or instances; every registered detector when None."""
    if isinstance(detectors, str):
        detectors = [detectors]
    if detectors is None:
        items: list = DETECTORS.resolve(None)
    else:
        items = [DETECTORS.get(d) if isinstance(d, str) else d for d in detectors]
        if not items:
            raise ConfigError("no detectors given; leave `detectors` out to run all of them", field="detectors")
    out = []
    for d in items:
        if isinstance(d, Detector):
            out.append(d)
        elif isinstance(d, type) and issubclass(d, Detector):
            out.append(_INSTANCES.get(d) or _INSTANCES.setdefault(d, d()))
        else:
            raise ConfigError(f"expected a detector name, class or instance, got {d!r}", field="detectors")
    return out


def resolve_thresholds(dets: list[Detector], thresholds: Mapping[str, float] | None) -> dict[str, float]:
    """Each detector's threshold: its default unless `thresholds` overrides it. Unknown names are an error."""
    out = {d.id: float(d.threshold) for d in dets}
    for name, value in (thresholds or {}).items():
        if name not in DETECTORS and name not in out:
            DETECTORS.get(name)  # raises ConfigError with suggestions
        try:
            v = float(value)
        except (TypeError, ValueError):
            raise ConfigError(f"threshold must be a number in [0, 1], got {value!r}",
                              field=f"thresholds.{name}") from None
        if math.isnan(v) or not 0.0 <= v <= 1.0:
            raise ConfigError(f"threshold must lie in [0, 1], got {value!r}", field=f"thresholds.{name}")
        if name in out:
            out[name] = v
    return out


def _finding(det: Detector, score: float, span: Span | None) -> Finding:
    evidence = [span.text] if span is not None else []
    data = span.to_dict() if span is not None else {}
    return Finding(id=det.id, severity=det.severity, description=det.description(), score=score,
                   evidence=evidence, data=data)


class Scanner:
    """Detectors, thresholds and matcher resolved once, for scanning many pairs.

    `Scanner(...).scan(prompt, response)` returns what `scan(prompt, response, ...)` returns with the same arguments;
    resolving the detectors and checking the thresholds once, and entering the matcher once per `scan_many`,
    keeps the per-pair overhead small. `matcher`: "compiled" (the default where `google-re2` is installed) or
    "reference" (Python `re` alone); both give identical results (see `sentinel.scan.matching`).
    """

    def __init__(self, detectors: Iterable[str | Detector | type] | None = None,
                 thresholds: Mapping[str, float] | None = None, matcher: str | None = None):
        self.detectors = resolve_detectors(detectors)
        self.thresholds = resolve_thresholds(self.detectors, thresholds)
        self.matcher = resolve_matcher(matcher)
        self._plan = [(d, d.id, self.thresholds[d.id], getattr(d, "needs", None)) for d in self.detectors]
        # For the compiled matcher: which detectors (by place in the plan) each pattern can wake, in a response and
        # in a prompt, and those always run (no `needs`). A pair's few candidate patterns then name the detectors
        # worth a closer look; the others score 0 without a test each.
        self._zeros = dict.fromkeys((p[1] for p in self._plan), 0.0)  # every detector's score, before any runs
        self._always: tuple[int, ...] = tuple(k for k, p in enumerate(self._plan) if p[3] is None)
        self._woken_by: tuple[dict[int, set[int]], dict[int, set[int]]] = ({}, {})
        for k, (_, _, _, need) in enumerate(self._plan):
            if need is not None:
                PATTERNS.mark_prompt(need.prompt)  # the prompt is read by the smaller prompt set
                for users, indices in zip(self._woken_by, (need.response, need.prompt)):
                    for i in indices:
                        users.setdefault(i, set()).add(k)

    def _worth_running(self, compiled: PairCache, response: str, prompt: str) -> Sequence[int] | None:
        """Places in the plan of the detectors the compiled set cannot rule out on this pair, in order (None: it
        rules out none, having given up). A detector with `needs` runs when one of the patterns it needs is a
        candidate of the set whose gates then pass; the few candidates name the detectors to look at."""
        in_response, low_response = compiled.candidates_lowered(response, lowered)
        in_prompt, low_prompt = compiled.candidates_lowered(prompt, lowered, prompt=True) if prompt \
            else (frozenset(), "")
        if in_response is None or in_prompt is None:
            return None
        if not in_response and not in_prompt:  # the common case: no pattern may match
            return self._always
        low_response, low_prompt = low_response or "", low_prompt or ""  # None only where no pattern may match
        woken = set(self._always)
        for users, found in zip(self._woken_by, (in_response, in_prompt)):
            for i in found:
                if i in users:
                    woken |= users[i]
        out = []
        for k in sorted(woken):
            need = self._plan[k][3]
            if need is None \
                    or (not need.response.isdisjoint(in_response)
                        and compiled.any_may_match(need.response, low_response)) \
                    or (not need.prompt.isdisjoint(in_prompt)
                        and compiled.any_may_match(need.prompt, low_prompt, prompt=True)):
                out.append(k)
        return out

    def _scan(self, prompt: str, response: str) -> ScanResult:
        findings: list[Finding] = []
        compiled = active()
        worth = self._worth_running(compiled, response, prompt) if compiled is not None else None
        todo: Iterable[int]
        if worth is None:
            scores: dict[str, float] = {}
            todo = range(len(self._plan))
        else:
            scores, todo = self._zeros.copy(), worth  # the detectors not run score 0
        for k in todo:
            det, det_id, limit, _ = self._plan[k]
            score, span = det.score(prompt, response)
            scores[det_id] = score
            if score >= limit and score > 0.0:
                findings.append(_finding(det, score, span))
        if len(findings) > 1:
            findings.sort(key=lambda f: (-f.severity.rank, -f.score))
        return ScanResult(scores=scores, thresholds=self.thresholds, findings=findings)

    def scan(self, prompt: str, response: str | None = None) -> ScanResult:
        """Score one pair (`response=None`: `prompt` alone is the text under test); see `scan()`."""
        prompt = _check_text(prompt, "prompt")
        if response is None:
            prompt, response = "", prompt
        else:
            response = _check_text(response, "response")
        with using(self.matcher):
            return self._scan(prompt, response)

    def scan_checked(self, prompt: str, response: str) -> ScanResult:
        """`scan` of a pair already known to be two strings, inside a `matching.using(self.matcher)` block."""
        return self._scan(prompt, response)

    def scan_many(self, pairs: Iterable[tuple[str, str]]) -> Iterator[ScanResult]:
        """`scan` of each (prompt, response) pair, in order; both must be strings."""
        with using(self.matcher):
            for prompt, response in pairs:
                yield self._scan(_check_text(prompt, "prompt"), _check_text(response, "response"))


def scan(
    prompt: str,
    response: str | None = None,
    detectors: Iterable[str | Detector | type] | None = None,
    thresholds: Mapping[str, float] | None = None,
    matcher: str | None = None,
) -> ScanResult:
    """Score a prompt/response pair with each detector; flag those at or above their threshold.

    `response=None` scans `prompt` alone, as the text under test with no context. `detectors` are registered
    names, classes or instances (default: every registered detector, see `sentinel.scan.DETECTORS`);
    `thresholds` overrides default thresholds by detector id, each in [0, 1] (a score of 0 never flags, even at
    threshold 0). `matcher`: "compiled" (default where `google-re2` is installed) or "reference"; both give
    identical results, the compiled one sooner (`sentinel.scan.matching`). Raises DataError (naming the field)
    for a non-string input and ConfigError for an unknown detector or a bad threshold. Deterministic; no model
    is needed; time is linear in the text length.
    """
    prompt = _check_text(prompt, "prompt")
    if response is not None:
        _check_text(response, "response")
    if detectors is None and not thresholds:
        return _default_scanner(matcher).scan(prompt, response)
    return Scanner(detectors, thresholds, matcher).scan(prompt, response)


# Scanners of every registered detector at its default threshold, by matcher: a Scanner holds no per-call state, so
# `scan(prompt, response)` reuses one instead of resolving the detectors on every call. Keyed on the number of
# registered detectors too, since registering one more changes "every detector".
_DEFAULTS: dict[tuple[str | None, int], Scanner] = {}


def _default_scanner(matcher: str | None) -> Scanner:
    key = (matcher, len(DETECTORS))
    scanner = _DEFAULTS.get(key)
    if scanner is None:
        scanner = _DEFAULTS[key] = Scanner(None, None, matcher)
    return scanner
