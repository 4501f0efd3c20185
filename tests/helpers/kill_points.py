"""Kill a `sentinel` command with SIGKILL at an exact point: the process kills itself there, so no test waits on
timing. Points: `step:N` (right after optimizer step N of a Trainer stage), `checkpoint:N` (half-way through writing
checkpoint-N), `final` (half-way through writing the finished folder), `save:N` (half-way through the N-th model
file written, whatever writes it). SENTINEL_KILL_SEED (default 35) seeds the tests' draws of points."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
KILLER = """
import os, signal, sys
import transformers.modeling_utils as mu
from transformers.trainer_callback import CallbackHandler

kind, _, n = sys.argv[1].partition(":")

def die():
    os.kill(os.getpid(), signal.SIGKILL)

real_save, real_step_end = mu.safe_save_file, CallbackHandler.on_step_end

saves = 0

def save(tensors, filename, *args, **kwargs):
    global saves
    saves += 1
    if ((kind == "checkpoint" and f"checkpoint-{n}" in filename) or (kind == "final" and ".partial" in filename)
            or (kind == "save" and saves == int(n))):
        with open(filename, "wb") as f:
            f.write(b"\\0" * 100)  # half a file, as a write cut short leaves it
        die()
    return real_save(tensors, filename, *args, **kwargs)

def step_end(self, args, state, control):
    control = real_step_end(self, args, state, control)
    if kind == "step" and state.global_step == int(n):
        die()
    return control

mu.safe_save_file, CallbackHandler.on_step_end = save, step_end
from sentinel.cli.main import main
sys.exit(main(sys.argv[2:]))
"""


def kill_seed() -> int:
    return int(os.environ.get("SENTINEL_KILL_SEED", "35"))


def killed(argv: list[str], point: str, root: Path, where: str) -> None:
    """Run `sentinel ARGV` in a process (with `root` on its PYTHONPATH) that kills itself at `point`; `where` (the
    seed and the points) heads the assertion message when it was not killed there."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(root), str(ROOT), *sys.path]), HF_HUB_OFFLINE="1",
               OMP_NUM_THREADS="1", TOKENIZERS_PARALLELISM="false")
    proc = subprocess.run([sys.executable, "-c", KILLER, point, *argv], env=env, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == -9, f"{where}: the run was not killed at {point}: {proc.stderr[-3000:]}"
