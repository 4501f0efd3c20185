"""Session fixtures for the built-in lab, shared by every area's tests.

`lab_dir`: a lab with the default (biased) annotator; `lab_dir_clean`: the same world with every bias at 0.
`lab_sft`: an SFT policy trained with the lab's full recipe, so it has learnt every task (not half-way through one:
a policy caught mid-way through learning a task gives different results on different CPUs and thread counts);
`lab_rm_biased` / `lab_rm_clean`: reward models started from `lab_sft` and trained on the biased / clean
preferences. Set SENTINEL_TEST_CACHE=/some/dir to keep them across runs while developing (CI starts fresh; delete
the folder after changing the lab).

Under pytest-xdist (`make test` runs two workers) each model is built once for the whole run: the workers share one
folder (the parent of their base temporary folders), and a file lock per model makes the first worker that needs it
build it while any other waits, then reads it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


def _cache_root(tmp_path_factory) -> Path:
    """SENTINEL_TEST_CACHE; else a folder of this run shared by its xdist workers (one per run without xdist)."""
    cache = os.environ.get("SENTINEL_TEST_CACHE")
    if cache:
        return Path(cache)
    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent  # <basetemp>/popen-gwN -> <basetemp>, the same for every worker
    root = base / "lab-fixtures"
    root.mkdir(parents=True, exist_ok=True)
    return root


@contextmanager
def _built_once(out: Path, marker: str) -> Iterator[bool]:
    """Hold `out`'s build lock; yields True when `out/marker` is there already (built by another worker or an earlier
    run), False when the caller must build it. Builders write `marker` last, so a killed build is built again."""
    from filelock import FileLock

    out.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(out.parent / f".{out.name}.lock")):
        yield (out / marker).is_file()


def _build_lab(root: Path, name: str, biases: dict | None) -> Path:
    from sentinel.lab import LabConfig, init_lab

    out = root / name
    with _built_once(out, "lab.json") as done:
        if done:
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
# The policy: the lab's SFT recipe (sentinel.lab.recipes.SFT_RECIPE), trained to convergence. PPO and DPO tests
# find their room to improve in its sampled replies (temperature 0.7-1.0), which are wrong on a share of prompts.
# The reward models: the lab's reward-model recipe (RM_RECIPE), the one whose figures docs/benchmarks.md gives (held-out
# accuracy, same-style pairs, the audit's findings); they carry their annotator's biases (tests/lab/test_lab_models.py).


def _trained(root: Path, name: str, build) -> Path:
    out = root / name
    with _built_once(out, "config.yaml") as done:
        if not done:
            build(out)
    return out


@pytest.fixture(scope="session")
def lab_sft(lab_dir, tmp_path_factory) -> Path:
    """An SFT policy folder (safetensors + tokenizer) fine-tuned on the lab's SFT data with the full recipe."""
    from sentinel.lab.recipes import SFT_RECIPE, RecipeConfig, train_sft

    # threads=None: the thread count of the test run (OMP_NUM_THREADS, 1 unless set), so that runs with 1 and 2
    # threads check the outcome under both.
    return _trained(_cache_root(tmp_path_factory), "lab-sft",
                    lambda out: train_sft(lab_dir, out, RecipeConfig(**{**SFT_RECIPE, "threads": None})))


def _lab_rm(lab: Path, sft: Path, out: Path) -> Path:
    """The lab's reward-model recipe (RM_RECIPE: fresh blocks on the SFT trunk), at the run's thread count."""
    from sentinel.lab.recipes import RM_RECIPE, RecipeConfig, train_reward

    settings = {k: v for k, v in RM_RECIPE.items() if k != "blocks"}
    return train_reward(lab, out, RecipeConfig(**{**settings, "threads": None}), init=sft, blocks=RM_RECIPE["blocks"])


@pytest.fixture(scope="session")
def lab_rm_biased(lab_dir, lab_sft, tmp_path_factory) -> Path:
    """A reward model folder (started from `lab_sft`) trained on the default biased preferences: it over-rewards
    padding, flattery, agreeing with the user and hedges."""
    return _trained(_cache_root(tmp_path_factory), "lab-rm-biased", lambda out: _lab_rm(lab_dir, lab_sft, out))


@pytest.fixture(scope="session")
def lab_rm_clean(lab_dir_clean, lab_sft, tmp_path_factory) -> Path:
    """A reward model folder (started from `lab_sft`) trained on the clean annotator's preferences (same prompts
    and candidates as the biased lab, labelled by gold)."""
    return _trained(_cache_root(tmp_path_factory), "lab-rm-clean", lambda out: _lab_rm(lab_dir_clean, lab_sft, out))


def finetune_policy(lab_dir: Path, policy: Path, transform, out: Path, config) -> Path:
    """Fine-tune `policy` further on `transform(rows)` of the lab's SFT rows. Returns `out`."""
    from sentinel.data import read_rows
    from sentinel.lab.recipes import train_sft

    return train_sft(lab_dir, out, config, init=policy, rows=transform(read_rows(lab_dir / "data" / "sft.jsonl").rows))


@pytest.fixture(scope="session")
def lab_sft_noisy(lab_dir, lab_sft, tmp_path_factory) -> Path:
    """`lab_sft` fine-tuned a little on demonstrations of which 40% give a wrong answer (`sentinel.lab.recipes.
    noisy_sft`): a policy whose samples are wrong on a steady share of prompts (a mixture it has learnt, not a task it
    has half learnt), which gives PPO and DPO against the gold grader room to improve the same way on every CPU."""
    from sentinel.lab.recipes import NOISY_SFT, RecipeConfig, noisy_sft

    return _trained(_cache_root(tmp_path_factory), "lab-sft-noisy",
                    lambda out: noisy_sft(lab_dir, lab_sft, out, 0.4, RecipeConfig(**NOISY_SFT, threads=None)))
