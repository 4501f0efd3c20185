"""Shared fixtures, for every test folder (tests/ mirrors the package: audit/, train/, lab/, scan/, report/, models/,
cli/, dataio/ for sentinel.data since tests/data holds the data files; helpers/ for shared helpers). Real data comes
from the small subsets in tests/data/ (see tests/data/SOURCES.md)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# The tests train tiny models, which gain little from a second thread and run far slower when the cores are
# oversubscribed (several test processes or a benchmark beside them).
os.environ.setdefault("OMP_NUM_THREADS", "1")

try:
    import torch

    torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))
except ImportError:  # pragma: no cover
    pass

TEST_DATA = Path(__file__).resolve().parent / "data"


# Hypothesis (the fuzz tests, marked `fuzz`): the `fixed` profile in `make test`, a small budget of examples,
# derandomized so that every run tries the same inputs; `make fuzz` selects the `fuzz` profile (HYPOTHESIS_PROFILE),
# with many more examples, drawn afresh each run. No example database: a failure prints the example that reproduces it.
try:
    from hypothesis import settings

    settings.register_profile("fixed", max_examples=25, derandomize=True, deadline=None, database=None,
                              print_blob=True)
    settings.register_profile("fuzz", max_examples=1000, derandomize=False, deadline=None, database=None,
                              print_blob=True)
    settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "fixed"))
except ImportError:  # pragma: no cover - hypothesis is a dev dependency
    pass


@pytest.fixture(scope="session")
def test_data() -> Path:
    """Subsets of real public datasets kept in the repository (tests/data/SOURCES.md), so a clone needs nothing else."""
    return TEST_DATA


@pytest.fixture
def free_port() -> str:
    """A TCP port free on 127.0.0.1 now, for a multi-process launch (a fixed port collides when two runs overlap)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return str(s.getsockname()[1])


@pytest.fixture(scope="session")
def tiny_tokenizer():
    from sentinel.models import train_tokenizer

    texts = [f"What is {a} + {b}? The answer is {a + b}." for a in range(10) for b in range(10)]
    texts += ["Sort the list: 3, 1, 2. Sorted: 1, 2, 3.", "I'm glad to assist you safely and helpfully!"]
    return train_tokenizer(texts, vocab_size=512)


@pytest.fixture
def tiny_sft_files(tiny_tokenizer, tmp_path) -> Path:
    """`tmp_path` holding base/ (a tiny Llama with `tiny_tokenizer`), sft.jsonl (25 prompt/completion rows) and
    pairs.jsonl (25 preference pairs): enough for a few steps of any TRL stage."""
    import json

    from sentinel.models import build_causal_lm

    build_causal_lm(tiny_tokenizer).save_pretrained(tmp_path / "base")
    tiny_tokenizer.save_pretrained(tmp_path / "base")
    sums = [(a, b) for a in range(5) for b in range(5)]
    rows = [{"prompt": f"What is {a} + {b}?", "completion": f"The answer is {a + b}."} for a, b in sums]
    (tmp_path / "sft.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    pairs = [{"prompt": f"What is {a} + {b}?", "chosen": f"The answer is {a + b}.", "rejected": "I am not sure."}
             for a, b in sums]
    (tmp_path / "pairs.jsonl").write_text("".join(json.dumps(r) + "\n" for r in pairs))
    return tmp_path


# Shared helpers (tiny PPO set-ups, scripted models, recorded logs) live in tests/helpers/, importable by name from
# every test folder; fixture plugins there (fixtures_<area>.py, e.g. the lab models shared by many tests) load here.
HELPERS = Path(__file__).resolve().parent / "helpers"
sys.path.insert(0, str(HELPERS))
pytest_plugins = sorted(p.stem for p in HELPERS.glob("fixtures_*.py"))


# ------------------------------------------------------------------------------------------ order for two workers
# `make test` runs pytest-xdist with whole files as units (--dist loadfile --no-loadscope-reorder), handed out in the
# order below. The shared lab models (fixtures_lab.py) are the suite's longest chain (lab -> SFT policy -> reward
# model, about half its CPU time), so the first file starts that chain on one worker (a file that needs the biased
# reward model and as little else as possible) while the other works through every file that needs no trained lab
# model. The files that need one come last, those that need the clean reward model first among them: the worker that
# reaches one builds that model while the other runs the rest.
LAB_MODELS = {"lab_sft", "lab_sft_noisy", "lab_rm_biased", "lab_rm_clean"}
CHAIN_FIRST = "lab_rm_biased"  # the deepest fixture: lab_dir -> lab_sft -> lab_rm_biased
BUILT_BESIDE = "lab_rm_clean"  # as long to build, and needs only lab_sft: built on the other worker


def pytest_collection_modifyitems(config, items):
    by_file: dict[str, list] = {}
    for item in items:
        by_file.setdefault(item.nodeid.split("::")[0], []).append(item)
    models = {f: set().union(*(set(getattr(i, "fixturenames", ())) for i in its)) & LAB_MODELS
              for f, its in by_file.items()}
    lab = [f for f in by_file if models[f]]
    chain = [f for f in lab if CHAIN_FIRST in models[f]]
    first = min(chain, key=lambda f: len(models[f])) if chain else None
    later = sorted((f for f in lab if f != first), key=lambda f: BUILT_BESIDE not in models[f])  # stable sort
    order = ([first] if first else []) + [f for f in by_file if not models[f]] + later
    items[:] = [i for f in order for i in by_file[f]]
