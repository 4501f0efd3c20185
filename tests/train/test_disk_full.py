"""A full disk while training: the run ends with one line naming the path (exit 2), earlier checkpoints stay, no
half-written folder looks finished, and the run resumes once there is room.

The disk fills by a write that raises what safetensors raises on ENOSPC, after writing half the file, as a real
full disk does (`FullDisk`): a test cannot rely on being allowed to mount a small file system."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors import SafetensorError

from sentinel.cli.main import main

ENOSPC = "Error while serializing: I/O error: No space left on device (os error 28)"


class FullDisk:
    """Stands in for safetensors' `save_file` in transformers: a write whose path contains `where` (from its
    `after`-th such write on) writes half its bytes and raises as safetensors does when the disk is full."""

    def __init__(self, real, where: str, after: int = 1):
        self.real, self.where, self.after, self.seen = real, where, after, 0

    def __call__(self, tensors, filename, *args, **kwargs):
        if self.where in str(filename):
            self.seen += 1
            if self.seen >= self.after:
                with open(filename, "wb") as f:
                    f.write(b"\0" * 1000)
                raise SafetensorError(ENOSPC)
        return self.real(tensors, filename, *args, **kwargs)


def _fill_disk(monkeypatch, where: str, after: int = 1) -> FullDisk:
    import transformers.modeling_utils as mu

    full = FullDisk(mu.safe_save_file, where, after)
    monkeypatch.setattr(mu, "safe_save_file", full)
    return full


def _sft(files, out, *more) -> list[str]:
    return ["train", "sft", "--model", str(files / "base"), "--train-file", str(files / "sft.jsonl"),
            "--output-dir", str(out), "--max-steps", "6", "--save-steps", "2", "--save-total-limit", "5",
            "--per-device-train-batch-size", "4", "--logging-steps", "1", "--quiet", "--seed", "0", *more]


def _weights(folder):
    from safetensors.torch import load_file

    return load_file(folder / "model.safetensors")


def _losses(folder):
    rows = [json.loads(x) for x in (folder / "metrics.jsonl").read_text().splitlines()]
    return [(r["step"], r["loss"]) for r in rows if "loss" in r]


@pytest.mark.parametrize("where", ["checkpoint-4", ".partial"], ids=["checkpoint", "final-save"])
def test_sft_on_a_full_disk_names_the_path_keeps_earlier_checkpoints_and_resumes(tiny_sft_files, monkeypatch,
                                                                                  capsys, where):
    files = tiny_sft_files
    assert main(_sft(files, files / "straight")) == 0
    out = files / "out"
    full = _fill_disk(monkeypatch, where)
    assert main(_sft(files, out)) == 2
    err = capsys.readouterr().err.strip().splitlines()
    named = out / "checkpoints" if where.startswith("checkpoint") else out
    assert full.seen and err == [f"sentinel: error: {named}: No space left on device"], err
    assert sorted(p.name for p in out.iterdir()) == ["checkpoints"]  # nothing that looks finished
    assert not list(files.glob(".out.*"))  # no half-written sibling either
    kept = sorted(p.name for p in (out / "checkpoints").glob("checkpoint-*"))
    assert "checkpoint-2" in kept and (out / "checkpoints" / "checkpoint-2" / "trainer_state.json").is_file()
    monkeypatch.undo()  # room again
    assert main(_sft(files, out, "--resume")) == 0
    assert _losses(out) == _losses(files / "straight")
    a, b = _weights(files / "straight"), _weights(out)
    assert all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("where", ["checkpoint", "final-save"])
def test_ppo_on_a_full_disk_keeps_its_last_checkpoint_and_resumes(tiny_tokenizer, tmp_path, monkeypatch, where):
    from ppo_tiny import PROMPTS, small_config, tiny_policy_files

    from sentinel.train.ppo import PPOTrainer
    from sentinel.train.ppo.ppo_state import checkpoint_step

    policy, _ = tiny_policy_files(tiny_tokenizer, tmp_path)

    def trainer(out, **kw):
        cfg = small_config(output_dir=str(out), max_steps=4, save_steps=1, batch_size=4, mini_batch_size=2, **kw)
        return PPOTrainer(config=cfg, model=str(policy), reward_model=lambda p, r: [float(x.count("5")) for x in r])

    straight = trainer(tmp_path / "straight")
    straight.train(PROMPTS)
    out = tmp_path / "out"
    if where == "checkpoint":
        _fill_disk(monkeypatch, ".checkpoint-last.", after=3)  # the third checkpoint does not fit
    else:
        _fill_disk(monkeypatch, f"/.{out.name}.")  # the finished model, built beside OUT, does not fit
    with pytest.raises(OSError) as e:
        trainer(out).train(PROMPTS)
    named = out / "checkpoint-last" if where == "checkpoint" else out
    assert e.value.filename == str(named) and "No space left" in str(e.value)
    assert checkpoint_step(out / "checkpoint-last") == (2 if where == "checkpoint" else 4)
    assert not (out / "config.json").exists() and not (out / "model.safetensors").exists()
    assert not list(out.glob(".checkpoint-last.*")) and not list(tmp_path.glob(".out.*"))
    monkeypatch.undo()
    resumed = trainer(out, resume=True)
    resumed.train(PROMPTS)
    assert without_time(resumed.history) == without_time(straight.history)


def without_time(history):
    return [{k: v for k, v in h.items() if k != "time/step"} for h in history]


@pytest.fixture
def full_fs(tmp_path):
    """A 1 MiB tmpfs, where mounting one is allowed (root on Linux); the test skips, saying why, elsewhere."""
    import os
    import shutil
    import subprocess

    mnt = tmp_path / "small"
    mnt.mkdir()
    if os.name != "posix" or os.geteuid() != 0 or not shutil.which("mount"):
        pytest.skip("mounting a small file system needs root on Linux")
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mnt)], capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {proc.stderr.strip()}")
    yield mnt
    subprocess.run(["umount", "-l", str(mnt)], check=False)  # lazily: a writer may still hold a file open


@pytest.mark.parametrize("writer", ["safetensors", "torch", "text"])
def test_a_real_full_file_system_is_an_os_error_naming_the_path(full_fs, writer):
    """The messages `disk_errors` reads are the ones safetensors, torch and Python give on a really full disk."""
    import errno

    from safetensors.torch import save_file

    from sentinel.utils import atomic_write_text, disk_errors

    big = {"w": torch.zeros(2**20)}  # 4 MiB, on a 1 MiB file system
    target = full_fs / "model"
    write = {"safetensors": lambda: save_file(big, str(target)), "torch": lambda: torch.save(big, target),
             "text": lambda: atomic_write_text(target, "x" * 2**21)}[writer]
    with pytest.raises(OSError) as e, disk_errors(target):
        write()
    assert e.value.errno == errno.ENOSPC and e.value.filename == str(target)


def test_other_errors_pass_through_unchanged():
    from sentinel.utils import disk_errors

    with pytest.raises(ConnectionRefusedError) as e, disk_errors("out"):
        raise ConnectionRefusedError(111, "Connection refused")
    assert e.value.filename is None
    with pytest.raises(RuntimeError, match="shape"), disk_errors("out"):
        raise RuntimeError("shape mismatch")
