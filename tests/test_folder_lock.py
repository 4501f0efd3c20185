"""Two writers, one folder: a run writing into a folder that another live process writes is refused (one line, exit
75), and a process killed with SIGKILL does not leave the folder locked."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from sentinel.errors import FolderBusyError
from sentinel.utils import folder_lock, lock_path

ROOT = Path(__file__).resolve().parents[1]
HOLD = ("import sys, time\n"
        "from sentinel.utils import folder_lock\n"
        "with folder_lock(sys.argv[1]):\n"
        "    print('held', flush=True)\n"
        "    time.sleep(600)\n")


@pytest.fixture
def holder(tmp_path):
    """Start a process that holds the lock of a folder and waits; yields (process, folder)."""
    procs = []

    def start(folder: Path) -> subprocess.Popen:
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), *sys.path]))
        proc = subprocess.Popen([sys.executable, "-c", HOLD, str(folder)], stdout=subprocess.PIPE, env=env)
        procs.append(proc)
        assert proc.stdout is not None and proc.stdout.readline() == b"held\n"
        return proc

    yield start
    for proc in procs:
        proc.kill()
        proc.wait()


def test_a_folder_held_by_a_live_process_is_refused_naming_its_pid(tmp_path, holder):
    out = tmp_path / "out"
    proc = holder(out)
    with pytest.raises(FolderBusyError) as e, folder_lock(out):
        pass
    assert e.value.pid == proc.pid and str(out) in str(e.value) and "\n" not in str(e.value)


def test_a_sigkilled_holder_leaves_the_folder_free(tmp_path, holder):
    out = tmp_path / "out"
    proc = holder(out)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert lock_path(out).exists()  # the killed process could not remove its lock file: the lock on it is gone
    with folder_lock(out):
        assert lock_path(out).read_text().split()[0] == str(os.getpid())
    assert not lock_path(out).exists()


def test_the_same_process_may_hold_a_folder_twice_and_others_wait_for_the_outer_release(tmp_path):
    out = tmp_path / "out"
    with folder_lock(out):
        with folder_lock(tmp_path / "out" / ".." / "out"):  # another spelling of the same folder
            pass
        assert lock_path(out).exists()
    assert not lock_path(out).exists()


def test_sentinel_train_into_a_busy_folder_is_one_line_with_exit_75(tiny_sft_files, holder, capsys):
    from sentinel.cli.main import main

    out = tiny_sft_files / "out"
    proc = holder(out)
    code = main(["train", "sft", "--model", str(tiny_sft_files / "base"), "--train-file",
                 str(tiny_sft_files / "sft.jsonl"), "--output-dir", str(out), "--max-steps", "1", "--quiet"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 75, err
    assert len(err) == 1 and f"process {proc.pid} is writing" in err[0] and str(out) in err[0], err
    assert not (out / "checkpoints").exists()  # refused before it touched the folder


def test_ppo_and_the_demo_take_the_same_lock(tmp_path, holder, tiny_tokenizer):
    from ppo_tiny import PROMPTS, small_config, tiny_policy_files

    from sentinel.demo.run import run_demo
    from sentinel.train.ppo import PPOTrainer

    out = tmp_path / "out"
    holder(out)
    with pytest.raises(FolderBusyError):
        run_demo(out)
    policy, _ = tiny_policy_files(tiny_tokenizer, tmp_path)
    trainer = PPOTrainer(config=small_config(output_dir=str(out)), model=str(policy),
                         reward_model=lambda prompts, replies: [0.0] * len(replies))
    with pytest.raises(FolderBusyError):
        trainer.train(PROMPTS)
    assert not out.exists() and trainer.step_count == 0
