"""Session fixtures for the built-in lab, shared by every area's tests.

`lab_dir`: a lab with the default (biased) annotator; `lab_dir_clean`: the same world with every bias at 0
(a second or two each). `lab_sft`: an SFT policy; `lab_rm_biased` / `lab_rm_clean`: reward models started from
`lab_sft` and trained on the biased / clean preferences (together 84 s on two cores shared with other jobs,
measured in the full suite; less on idle cores). Set SENTINEL_TEST_CACHE=/some/dir to keep them across runs while
developing (CI starts fresh; delete the folder after changing the lab).
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


# ----------------------------------------------------------------------------- trained lab models
# The lab's quick recipes (sentinel.lab.recipes.QUICK_SFT / QUICK_RM), shared with the lab benchmarks: a policy at
# about 0.55 gold accuracy (room for PPO and DPO tests to improve it) and reward models that carry their
# annotator's biases (see tests/test_lab_models.py).


def _trained(root: Path, name: str, build) -> Path:
    out = root / name
    if (out / "config.yaml").is_file():  # cached from an earlier run (SENTINEL_TEST_CACHE)
        return out
    build(out)
    return out


@pytest.fixture(scope="session")
def lab_sft(lab_dir, tmp_path_factory) -> Path:
    """An SFT policy folder (safetensors + tokenizer) fine-tuned on the lab's SFT data."""
    from sentinel.lab.recipes import QUICK_SFT, RecipeConfig, train_sft

    return _trained(_cache_root(tmp_path_factory), "lab-sft",
                    lambda out: train_sft(lab_dir, out, RecipeConfig(**QUICK_SFT)))


@pytest.fixture(scope="session")
def lab_rm_biased(lab_dir, lab_sft, tmp_path_factory) -> Path:
    """A reward model folder (started from `lab_sft`) trained on the default biased preferences: it over-rewards
    padding, flattery, agreeing with the user and hedges."""
    from sentinel.lab.recipes import QUICK_RM, RecipeConfig, train_reward

    return _trained(_cache_root(tmp_path_factory), "lab-rm-biased",
                    lambda out: train_reward(lab_dir, out, RecipeConfig(**QUICK_RM), init=lab_sft))


@pytest.fixture(scope="session")
def lab_rm_clean(lab_dir_clean, lab_sft, tmp_path_factory) -> Path:
    """A reward model folder (started from `lab_sft`) trained on the clean annotator's preferences (same prompts
    and candidates as the biased lab, labelled by gold)."""
    from sentinel.lab.recipes import QUICK_RM, RecipeConfig, train_reward

    return _trained(_cache_root(tmp_path_factory), "lab-rm-clean",
                    lambda out: train_reward(lab_dir_clean, out, RecipeConfig(**QUICK_RM), init=lab_sft))
