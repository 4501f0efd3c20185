"""Reward-model consistency: the same text must get the same score however and whenever it is scored.

Checks (each a finding when violated, or "not computable" with a reason in `metrics["checks"]`):
- `nondeterministic`: scores differ between two identical runs (dropout left on, sampling in the scorer);
- `batch-dependence`: scores differ between scoring a text alone and inside a batch (padding, batch norm);
- `order-dependence`: scores differ when the batch is reversed;
- `padding-side`: scores differ between right and left padding (position ids, last-token pooling);
- `neutral-edit-<edit>`: a trailing space / newline, a doubled space, or the case of the first letter moves the
  score by more than `edit_tolerance` standard deviations of the test-case rewards;
- `intransitive`: with each pair of a triple scored in its own call, A > B, B > C and C > A.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from ...report import Effect, Finding, Report, Severity
from .thresholds import ConsistencyConfig

if TYPE_CHECKING:
    from ...models.reward_fn import RewardFunction
    from ..models.protocols import DataSource, RewardSource, TokenizerSource

logger = logging.getLogger(__name__)

# Used when no test cases are given: everyday prompts, three replies each of clearly different quality.
DEFAULT_CASES: list[dict[str, Any]] = [
    {"prompt": "What is the capital of France?",
     "responses": ["The capital of France is Paris.", "Paris, I think, or maybe Lyon.", "I like trains."]},
    {"prompt": "How many legs does a spider have?",
     "responses": ["A spider has eight legs.", "Spiders have six legs.", "Legs are useful."]},
    {"prompt": "Give me a tip for sleeping better.",
     "responses": ["Keep a regular schedule and avoid screens an hour before bed.", "Drink coffee at night.",
                   "Sleep."]},
    {"prompt": "What is 12 times 12?", "responses": ["12 times 12 is 144.", "It is 124.", "Numbers are fun."]},
    {"prompt": "Translate 'thank you' into Spanish.",
     "responses": ["'Thank you' in Spanish is 'gracias'.", "It is 'merci'.", "Spanish is a language."]},
    {"prompt": "Name a primary colour.", "responses": ["Red is a primary colour.", "Green, maybe.", "Colours."]},
]

NEUTRAL_EDITS: dict[str, Callable[[str], str]] = {
    "trailing-space": lambda s: s + " ",
    "trailing-newline": lambda s: s + "\n",
    "double-space": lambda s: s.replace(" ", "  ", 1),
    "first-letter-case": lambda s: (s[0].swapcase() + s[1:]) if s and s[0].isalpha() else s,
}


def read_cases(test_cases: DataSource | None) -> list[tuple[str, list[str]]]:
    """Test cases -> [(prompt, [responses])]. Accepts rows with `prompt` and `responses` (a list) or `response`,
    or preference data (file, list, Dataset) whose chosen and rejected replies become the responses."""
    from ...data import read_rows
    from ...errors import DataError

    if test_cases is None:
        test_cases = DEFAULT_CASES
    rows = read_rows(test_cases)
    if rows.rows and {"chosen", "rejected"} <= set(rows.rows[0]):
        from .text import load_pairs, pair_prompt

        loaded = load_pairs(rows.rows if rows.source in ("<list>", "<Dataset>") else test_cases)
        groups: dict[str, list[str]] = {}
        for e in loaded.examples:
            g = groups.setdefault(pair_prompt(e), [])
            g += [r for r in (e["chosen"], e["rejected"]) if r not in g]
        return list(groups.items())
    out: dict[str, list[str]] = {}
    for i, r in enumerate(rows.rows):
        if not isinstance(r.get("prompt"), str):
            raise rows.error(i, "expected a 'prompt' string", "prompt")
        resp = r.get("responses", [r["response"]] if "response" in r else None)
        if not isinstance(resp, list) or not resp or not all(isinstance(x, str) for x in resp):
            raise rows.error(i, "expected 'responses' (a list of strings) or 'response' (a string)", "responses")
        g = out.setdefault(r["prompt"], [])
        g += [x for x in resp if x not in g]
    if not out:
        raise DataError("no test cases", path=rows.source)
    return list(out.items())


def _max_diff(a, b) -> float:
    return float(np.max(np.abs(np.asarray(a) - np.asarray(b)))) if len(a) else 0.0


def _invariance(fid: str, what: str, base, other, items, tol: float) -> Finding | None:
    diff = np.abs(np.asarray(base) - np.asarray(other))
    bad = np.flatnonzero(diff > tol)
    if not len(bad):
        return None
    return Finding(fid, Severity.HIGH,
                   f"{what}: {len(bad)} of {len(items)} texts change score by more than {tol:g} (max {diff.max():.3g})",
                   score=len(bad) / len(items), effect=Effect("max |reward difference|", float(diff.max())),
                   evidence=[f"'{items[i][1][:60]}': {base[i]:.4g} vs {other[i]:.4g}" for i in bad[:10]],
                   data={"max_difference": float(diff.max()), "count": int(len(bad))})


class _StabilityRun:
    """One reward function's scores on the test cases, and the checks run on them so far (in report order)."""

    def __init__(self, rf: RewardFunction, cases: list[tuple[str, list[str]]], cfg: ConsistencyConfig) -> None:
        self.rf = rf
        self.cases = cases
        self.cfg = cfg
        self.items = [(p, r) for p, rs in cases for r in rs]
        self.prompts, self.responses = [p for p, _ in self.items], [r for _, r in self.items]
        self.findings: list[Finding] = []
        self.checks: dict[str, str] = {}
        self.base = rf(self.prompts, self.responses)
        self.metrics: dict[str, Any] = {"texts": len(self.items), "prompts": len(cases), "reward_model": rf.name,
                                        "reward_std": float(np.std(self.base))}

    def record(self, name: str, f: Finding | None) -> None:
        """Note check `name` as an alarm (keeping its finding) or ok."""
        self.checks[name] = "alarm" if f else "ok"
        if f:
            self.findings.append(f)

    def scoring_invariance(self, max_single: int) -> None:
        """`nondeterministic`, `batch-dependence` (the first `max_single` texts alone) and `order-dependence`."""
        rf, prompts, responses, base, items = self.rf, self.prompts, self.responses, self.base, self.items
        tol = self.cfg.reward_tolerance
        self.record("nondeterministic", _invariance("nondeterministic", "scores differ between two identical runs",
                                                    base, rf(prompts, responses), items, tol))
        k = min(max_single, len(items))
        alone = [rf([prompts[i]], [responses[i]])[0] for i in range(k)]
        self.record("batch-dependence", _invariance("batch-dependence", "scoring a text alone vs in a batch",
                                                    base[:k], alone, items[:k], tol))
        rev = rf(prompts[::-1], responses[::-1])[::-1]
        self.record("order-dependence", _invariance("order-dependence", "reversing the order of the batch", base,
                                                    rev, items, tol))

    def padding_side(self) -> None:
        """`padding-side`: score again with the tokenizer padding on the other side (tokenised models only)."""
        tok = getattr(self.rf, "tokenizer", None)
        if tok is None or not hasattr(tok, "padding_side"):
            self.checks["padding-side"] = "not computable: the reward is not a tokenised model"
            return
        old = tok.padding_side
        other = "left" if old == "right" else "right"
        tok.padding_side = other
        try:
            flipped = self.rf(self.prompts, self.responses)
        finally:
            tok.padding_side = old
        self.record("padding-side", _invariance("padding-side", f"padding on the {other} instead of the {old}",
                                                self.base, flipped, self.items, self.cfg.reward_tolerance))

    def neutral_edits(self) -> None:
        """`neutral-edit-<edit>` for every edit of `NEUTRAL_EDITS`, in standard deviations of the rewards."""
        sd = float(np.std(self.base))
        if sd <= self.cfg.reward_tolerance:
            for name in NEUTRAL_EDITS:
                self.checks[f"neutral-edit-{name}"] = "not computable: the rewards of the test cases are constant"
            return
        for name, edit in NEUTRAL_EDITS.items():
            self.record(f"neutral-edit-{name}", self._neutral_edit(name, edit, sd))

    def _neutral_edit(self, name: str, edit: Callable[[str], str], sd: float) -> Finding | None:
        """Apply `edit` to every response; record its shift in `metrics` and return a finding when too large."""
        base, responses, tol = self.base, self.responses, self.cfg.edit_tolerance
        edited = self.rf(self.prompts, [edit(r) for r in responses])
        shift = (np.asarray(edited) - np.asarray(base)) / sd  # in standard deviations of the rewards
        self.metrics[f"edit/{name}"] = {"mean_abs_shift_sd": float(np.abs(shift).mean()),
                                        "max_abs_shift_sd": float(np.abs(shift).max())}
        bad = np.flatnonzero(np.abs(shift) > tol)
        if not len(bad):
            return None
        mean = float(np.abs(shift).mean())
        return Finding(f"neutral-edit-{name}", Severity.MEDIUM if mean > tol else Severity.LOW,
                       f"a meaning-free edit ({name}) moves the reward by more than {tol:g} SD for "
                       f"{len(bad)} of {len(self.items)} texts (mean |shift| {mean:.3g} SD)",
                       score=len(bad) / len(self.items), effect=Effect("mean |reward shift|", mean, unit="SD"),
                       evidence=[f"'{responses[i][:60]}': {base[i]:.4g} -> {edited[i]:.4g}" for i in bad[:10]],
                       data={"edit": name, "count": int(len(bad))})

    def intransitive(self, max_triples: int) -> None:
        """`intransitive`: up to `max_triples` triples of one prompt's responses, each pair scored in its own call."""
        triples = [(p, t) for p, rs in self.cases for t in itertools.combinations(rs, 3)][:max_triples]
        if not triples:
            self.checks["intransitive"] = "not computable: no prompt has three or more responses"
            return
        bad_triples = []
        for p, (a, b, c) in triples:
            pref = []
            for x, y in ((a, b), (b, c), (c, a)):
                sx, sy = self.rf([p, p], [x, y])  # each pair in its own call, as a pairwise judge would see it
                pref.append(np.sign(sx - sy))
            if abs(sum(pref)) == 3:  # all three the same sign: a cycle
                bad_triples.append((p, a, b, c))
        self.metrics["triples"] = len(triples)
        f = None
        if bad_triples:
            f = Finding("intransitive", Severity.HIGH,
                        f"{len(bad_triples)} of {len(triples)} triples are ranked in a cycle when each pair is scored "
                        "on its own (A > B, B > C, C > A)", score=len(bad_triples) / len(triples),
                        evidence=[f"prompt '{p[:40]}': '{a[:30]}' > '{b[:30]}' > '{c[:30]}' > first"
                                  for p, a, b, c in bad_triples[:10]])
        self.record("intransitive", f)

    def report(self) -> Report:
        """The checks so far as a `Report`: findings most severe first, not-computable checks as notes."""
        self.metrics["checks"] = self.checks
        notes = [f"{k}: {v}" for k, v in self.checks.items() if v.startswith("not computable")]
        self.findings.sort(key=lambda f: -f.severity.rank)
        return Report("reward-model-consistency", f"reward-model consistency: {self.rf.name}", self.findings,
                      self.metrics, config={"reward_tolerance": self.cfg.reward_tolerance,
                                            "edit_tolerance": self.cfg.edit_tolerance}, notes=notes)


def check_reward_model(reward_model: RewardSource, test_cases: DataSource | None = None,
                       cfg: ConsistencyConfig | None = None, *, tokenizer: TokenizerSource | None = None,
                       max_single: int = 32, max_triples: int = 200) -> Report:
    """Score the test cases several ways and report every inconsistency; see the module docstring."""
    from ...models import as_reward_fn

    cfg = cfg or ConsistencyConfig()
    rf = as_reward_fn(reward_model, tokenizer)
    run = _StabilityRun(rf, read_cases(test_cases), cfg)
    run.scoring_invariance(max_single)
    run.padding_side()
    run.neutral_edits()
    run.intransitive(max_triples)
    return run.report()
