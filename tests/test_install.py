"""`make install` on a machine without CUDA asks PyTorch's CPU index for torch first and falls back to the default
index (where, on Linux, torch is the multi-GB CUDA build); run with a stand-in Python that records each pip call."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

FAKE_PYTHON = """#!/bin/sh
echo "$*" >> "{log}"
case "$*" in *"--index-url"*) exit {cpu_index_rc};; esac
exit 0
"""


def _install(tmp_path: Path, cpu_index_rc: int) -> list[str]:
    venv, log = tmp_path / "venv", tmp_path / "pip.log"
    (venv / "bin").mkdir(parents=True)
    fake = venv / "bin" / "python"
    fake.write_text(FAKE_PYTHON.format(log=log, cpu_index_rc=cpu_index_rc))
    fake.chmod(0o755)
    env = {**os.environ, "PATH": "/usr/bin:/bin"}  # no nvidia-smi
    subprocess.run(["make", "-B", "-s", f"VENV={venv}", f"PYTHON={fake}", f"{venv}/.installed"], cwd=ROOT,
                   env=env, check=True, capture_output=True, text=True, timeout=60)
    return [line for line in log.read_text().splitlines() if "pip install" in line and "torch" in line]


@pytest.mark.skipif(shutil.which("make") is None or not Path("/bin/sh").exists(), reason="needs make and /bin/sh")
def test_without_cuda_torch_comes_from_the_cpu_index_first(tmp_path):
    assert not shutil.which("nvidia-smi", path="/usr/bin:/bin"), "this machine has CUDA tools on its PATH"
    calls = _install(tmp_path, cpu_index_rc=0)
    assert len(calls) == 1 and "--index-url https://download.pytorch.org/whl/cpu" in calls[0], calls
    calls = _install(tmp_path / "unreachable", cpu_index_rc=1)  # the CPU index cannot be reached: the default one
    assert len(calls) == 2 and "--index-url" in calls[0] and "--index-url" not in calls[1], calls
    assert "torch==2.13.0" in calls[1]
