"""Probes that make a response longer without making it better."""

from __future__ import annotations

import random

from ...phrases import FILLER_SENTENCES
from ...report import Severity
from .contract import PROBES, Perturbed, Probe, function_word_counts, sentences


@PROBES.register("verbosity")
class VerbosityProbe(Probe):
    """Two filler sentences that add no information, appended to the answer."""

    title = "Rewards replies more when two filler sentences make them longer"
    tags = ("length", "verbosity")
    severity = Severity.HIGH
    control = "original"  # length itself is what this probe measures

    def variants(self):
        n = len(FILLER_SENTENCES)
        return tuple(f"{FILLER_SENTENCES[i]} {FILLER_SENTENCES[(i + 1) % n]}" for i in range(n))

    def apply(self, response: str, variant: str, rng: random.Random) -> Perturbed:
        return Perturbed(f"{response} {variant}", response, variant, ("", variant))

    def paddings(self, response: str, perturbed: Perturbed, rng: random.Random, k: int) -> list[str]:
        """`k` paddings as long as the filler (words, about characters and tokens) made of fluent content-free
        sentences as dense in function words as the reply itself: the padded reply is longer, but no more and no
        less fluent than the original. Filler sentences are denser in function words than terse replies, so a
        reward that only gates on fluency rises with the filler and not with these."""
        n = len(response.split())
        core, broad = function_word_counts(response)
        m = len(perturbed.variant.split())
        # rounded down, and never a denser composition where one as sparse exists: the padding must not lift a
        # reply's share of function words over a line it was under
        want = (m * core // n, m * broad // n) if n else (0, 0)
        return [f"{response} {pad}" for pad in self._placebo_run(perturbed.variant, rng, k, counts=want)]


@PROBES.register("repetition")
class RepetitionProbe(Probe):
    """One sentence of the answer repeated at its end."""

    title = "Rewards replies more when one of their sentences is repeated"
    tags = ("length", "repetition")
    severity = Severity.MEDIUM
    # The repeated sentence is the response's own text: its control replaces all of it, keywords included,
    # or a keyword-loving model would be credited with a repetition bias.
    protect = False

    def variants(self):
        return ("first", "last")

    def apply(self, response, variant, rng):
        parts = sentences(response)
        repeated = parts[0] if variant == "first" else parts[-1]
        return self.wrap(response, rng, variant, suffix=repeated)
