"""Atomic writes leave no half-written output and give files and folders the user's umask, not owner-only modes."""

from __future__ import annotations

import os
import stat

import pytest

from sentinel.utils import atomic_directory, atomic_write_json, atomic_write_text


@pytest.fixture(params=[0o022, 0o077])
def umask(request):
    old = os.umask(request.param)
    yield request.param
    os.umask(old)


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def test_files_and_folders_get_the_umask_mode(tmp_path, umask):
    from sentinel.report import Report

    atomic_write_text(tmp_path / "a.txt", "x")
    atomic_write_json(tmp_path / "b.json", {"a": 1})
    assert mode(tmp_path / "a.txt") == mode(tmp_path / "b.json") == 0o666 & ~umask
    with atomic_directory(tmp_path / "model") as tmp:
        (tmp / "weights").write_text("w")
    assert mode(tmp_path / "model") == 0o777 & ~umask
    Report("t", "target", []).save(tmp_path / "report")
    for name in ("report.json", "report.md", "report.html"):
        assert mode(tmp_path / "report" / name) == 0o666 & ~umask  # readable by others under 0022 (CI artefacts)


def test_a_failed_write_leaves_nothing(tmp_path):
    with pytest.raises(RuntimeError), atomic_directory(tmp_path / "model") as tmp:
        (tmp / "half").write_text("x")
        raise RuntimeError("crash")
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(TypeError):
        atomic_write_json(tmp_path / "c.json", {"a": object()})
    assert list(tmp_path.iterdir()) == []
