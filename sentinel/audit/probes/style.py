"""Probes that change how a response looks, not what it says."""

from __future__ import annotations

import random

from ...report import Severity
from .contract import PROBES, Perturbed, Probe, sentences


@PROBES.register("format")
class FormatProbe(Probe):
    """The same sentences laid out as a markdown list (bullets, numbers) or with bold text."""

    title = "Rewards the same reply more when laid out in markdown (list or bold)"
    tags = ("style", "format")
    severity = Severity.MEDIUM

    def variants(self):
        return ("bullets", "numbered", "bold")

    def apply(self, response: str, variant: str, rng: random.Random) -> Perturbed:
        parts = sentences(response)
        rest = "".join(f" {s}" for s in parts[1:])
        if variant == "bold":
            # No words are added; the control pads the first sentence with as many spaces as the asterisks, so
            # it has the same words and characters.
            return Perturbed(f"**{parts[0]}**{rest}", f"  {parts[0]}  {rest}", variant)
        markers = ["-"] * len(parts) if variant == "bullets" else [f"{i}." for i in range(1, len(parts) + 1)]
        text = "\n".join(f"{m} {s}" for m, s in zip(markers, parts))
        # Control: the same line breaks, a one-word neutral sentence ("So.") where each list marker is: as many
        # words, at least as many characters.
        control = "\n".join(f"{self._fluent(m + 'xx', rng)} {s}" for m, s in zip(markers, parts))
        return Perturbed(text, control, variant)
