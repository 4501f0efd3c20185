"""Reward-model probes: each a small registered class (see `contract.py` for the contract they keep).

>>> from sentinel.audit.probes import PROBES
>>> PROBES.names()
['keyword', 'disclaimer', 'evasive', 'sycophancy', 'master_key', 'polite_wrapper', 'verbosity', 'repetition', 'format']
"""

from . import length, lexical, style  # noqa: F401  (registers the probes)
from .contract import PROBES, Perturbed, Probe, contains_in_order, sentences, words

__all__ = ["PROBES", "Perturbed", "Probe", "contains_in_order", "sentences", "words"]
