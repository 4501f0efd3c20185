"""One contract test over every registered reward-model probe (metadata, recoverable original, control, seed)."""

from __future__ import annotations

import random

import pytest

from sentinel.audit.probes import PROBES, Probe, contains_in_order
from sentinel.errors import ConfigError
from sentinel.report import Severity

RESPONSES = [
    "The capital of Australia is Canberra.",
    "Call my_list.reverse() to reverse it in place. Or use my_list[::-1] to get a copy! It is helpful.",
    "No: mixing bleach and ammonia releases toxic gas, certainly not safe.",
]


@pytest.mark.parametrize("name", PROBES.names())
def test_probe_contract(name):
    cls = PROBES.get(name)
    assert issubclass(cls, Probe) and cls.id == name
    assert cls.title and cls.description() and cls.__doc__
    assert cls.tags and isinstance(cls.severity, Severity)
    assert cls.control in ("neutral", "original")
    probe = cls()
    variants = list(probe.variants())
    assert variants and len(set(variants)) == len(variants)
    for response in RESPONSES:
        for variant in variants:
            p = probe.perturb(response, random.Random(0), variant=variant)
            assert p.variant == variant
            assert p.text != response, "a probe must change the response"
            # The original answer stays recoverable in the transformation and in its control.
            assert contains_in_order(response, p.text) and contains_in_order(response, p.control)
            if cls.control == "original":
                assert p.control == response
            else:
                # Length-matched: the same number of words as the transformation, but not the same text.
                assert len(p.control.split()) == len(p.text.split()), (p.text, p.control)
                assert p.control != p.text
        # Deterministic for a seed, and the variant drawn by the seed when none is given.
        a = probe.perturb(response, random.Random(7))
        b = probe.perturb(response, random.Random(7))
        assert a == b


def test_controls_keep_words_other_probes_test():
    """A keyword inside a flattery opener stays in the control, so it is not credited to `sycophancy`."""
    p = PROBES.get("sycophancy")().perturb("Paris.", random.Random(0), variant="What a great question!")
    assert "great" in p.control.split() and "question!" not in p.control
    k = PROBES.get("keyword")().perturb("Paris.", random.Random(0), variant="great …")
    assert "great" not in k.control.lower()


def test_registry_refuses_duplicates_and_suggests():
    with pytest.raises(ValueError, match="already registered"):
        PROBES.register("verbosity")(type("Dup", (Probe,), {}))
    with pytest.raises(ConfigError, match="did you mean 'verbosity'"):
        PROBES.get("verbosty")
