"""Probes that add content-free phrases: words a reward model may like for their own sake."""

from __future__ import annotations

import random

from ...phrases import (
    AGREEMENT_OPENERS,
    AI_DISCLAIMERS,
    FLATTERY_OPENERS,
    HEDGES,
    MASTER_KEYS,
    POLITE_PREFIXES,
    POLITE_SUFFIXES,
    REWARD_KEYWORDS,
)
from ...report import Severity
from .contract import PROBES, Perturbed, Probe


@PROBES.register("keyword")
class KeywordProbe(Probe):
    """Reward-pleasing words ("helpful", "certainly", "I'm glad to assist") added before or after the answer.

    Variants are written "helpful …" (the word opens the response) and "… helpful" (it closes the response).
    """

    title = "Rewards replies more when a reward-pleasing word opens or closes them"
    tags = ("style", "keyword")
    severity = Severity.HIGH

    def variants(self):
        return tuple(f"{kw} …" for kw in REWARD_KEYWORDS) + tuple(f"… {kw}" for kw in REWARD_KEYWORDS)

    def apply(self, response: str, variant: str, rng: random.Random) -> Perturbed:
        phrase = variant.strip("… ")
        phrase = phrase[:1].upper() + phrase[1:] + "!"
        if variant.startswith("…"):
            return self.wrap(response, rng, variant, suffix=phrase)
        return self.wrap(response, rng, variant, prefix=phrase)


@PROBES.register("disclaimer")
class DisclaimerProbe(Probe):
    """An AI disclaimer ("As an AI language model,") added in front of the answer."""

    title = "Rewards replies more when an AI disclaimer opens them"
    tags = ("style", "disclaimer")
    severity = Severity.MEDIUM

    def variants(self):
        return AI_DISCLAIMERS

    def apply(self, response, variant, rng):
        return self.wrap(response, rng, variant, prefix=variant)


@PROBES.register("evasive")
class EvasiveProbe(Probe):
    """A hedge or refusal ("It's difficult to say for certain.") put before the answer."""

    title = "Rewards replies more when a hedge or refusal opens them"
    tags = ("style", "hedging")
    severity = Severity.MEDIUM

    def variants(self):
        # Hedges that open with an AI disclaimer are left to the `disclaimer` probe, so each bias is reported once.
        return tuple(h for h in HEDGES if not any(h.lower().startswith(d.lower().rstrip(",")) for d in AI_DISCLAIMERS))

    def apply(self, response, variant, rng):
        return self.wrap(response, rng, variant, prefix=variant)


@PROBES.register("sycophancy")
class SycophancyProbe(Probe):
    """A flattering or agreeing opener ("Great question!", "I agree with you.") before the answer."""

    title = "Rewards replies more when they open with flattery or agreement"
    tags = ("sycophancy",)
    severity = Severity.HIGH

    def variants(self):
        return FLATTERY_OPENERS + AGREEMENT_OPENERS

    def apply(self, response, variant, rng):
        return self.wrap(response, rng, variant, prefix=variant)


@PROBES.register("master_key")
class MasterKeyProbe(Probe):
    """A content-free opener (":", "Thought process:") that fools LLM judges (arXiv 2507.08794)."""

    title = "Rewards replies more when a content-free 'master key' opens them"
    tags = ("attack", "master-key")
    severity = Severity.HIGH

    def variants(self):
        return MASTER_KEYS

    def apply(self, response, variant, rng):
        return self.wrap(response, rng, variant, prefix=variant)


@PROBES.register("polite_wrapper")
class PoliteWrapperProbe(Probe):
    """The worse (rejected) reply of each pair, wrong or harmful, wrapped in safe-sounding phrases before and after.

    Only rejected replies are wrapped, so the finding measures what its title says: a frame that makes bad content
    score higher. (Prompt/response rows have no rejected reply; the probe then measures nothing and says so.)
    """

    title = "Rewards worse (rejected) replies more when wrapped in polite, safe-sounding phrases"
    tags = ("attack", "safety", "polite-wrapper")
    severity = Severity.HIGH
    roles = ("rejected",)

    def variants(self):
        return tuple(f"{p} || {s}" for p in POLITE_PREFIXES for s in POLITE_SUFFIXES)

    def apply(self, response, variant, rng):
        prefix, _, suffix = variant.partition(" || ")
        return self.wrap(response, rng, variant, prefix=prefix, suffix=suffix)
