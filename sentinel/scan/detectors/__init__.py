"""Scan detectors: one small registered class per signal. Importing this package registers them all.

Order matters only for output: cheap, common signals first.
"""

from . import (  # noqa: F401  (imported to register)
    ai_disclaimer,
    evasive,
    flattery,
    hidden_instruction,
    keyword_stuffing,
    master_key,
    polite_wrapper,
    repetition,
    verbosity,
)
from .base import DETECTORS, Detector, Span, check_detector, register

__all__ = ["DETECTORS", "Detector", "Span", "check_detector", "register"]
