"""Probes that change how a response looks, not what it says."""

from __future__ import annotations

import random

from ...phrases import NEUTRAL_WORDS
from ...report import Severity
from .base import PROBES, Perturbed, Probe, sentences


@PROBES.register("format")
class FormatProbe(Probe):
    """The same sentences laid out as a markdown list (bullets, numbers) or with bold text."""

    title = "Prefers markdown formatting over the same content"
    tags = ("style", "format")
    severity = Severity.MEDIUM

    def variants(self):
        return ("bullets", "numbered", "bold")

    def apply(self, response: str, variant: str, rng: random.Random) -> Perturbed:
        parts = sentences(response)
        if variant == "bold":
            # No words are added: the control is the original text.
            return Perturbed(f"**{parts[0]}**" + "".join(f" {s}" for s in parts[1:]), response, variant)
        markers = ["-"] * len(parts) if variant == "bullets" else [f"{i}." for i in range(1, len(parts) + 1)]
        text = "\n".join(f"{m} {s}" for m, s in zip(markers, parts))
        # Control: the same line breaks, a neutral word where each list marker is.
        control = "\n".join(f"{rng.choice(NEUTRAL_WORDS)} {s}" for s in parts)
        return Perturbed(text, control, variant)
