"""Session fixtures for the built-in lab, shared by every area's tests.

`lab_dir`: a lab with the default (biased) annotator; `lab_dir_clean`: the same world with every bias at 0.
Both are built once per session (a few seconds each). Set SENTINEL_TEST_CACHE=/some/dir to keep them across runs
while developing (CI starts fresh).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest


def _cache_root(tmp_path_factory) -> Path:
    cache = os.environ.get("SENTINEL_TEST_CACHE")
    return Path(cache) if cache else tmp_path_factory.mktemp("lab")


def _build_lab(root: Path, name: str, biases: dict | None) -> Path:
    from sentinel.lab import LabConfig, init_lab

    out = root / name
    if (out / "lab.json").is_file():  # cached from an earlier run (SENTINEL_TEST_CACHE)
        return out
    cfg = LabConfig(seed=0) if biases is None else LabConfig(seed=0, biases=biases)
    return init_lab(out, cfg, overwrite=True)


@pytest.fixture(scope="session")
def lab_dir(tmp_path_factory) -> Path:
    """A lab folder with the default biases (verbosity, keyword, sycophancy, evasiveness at 0.9)."""
    return _build_lab(_cache_root(tmp_path_factory), "lab-biased", None)


@pytest.fixture(scope="session")
def lab_dir_clean(tmp_path_factory) -> Path:
    """A lab folder whose annotator has no bias: every chosen reply is the gold-better one."""
    return _build_lab(_cache_root(tmp_path_factory), "lab-clean", {})
