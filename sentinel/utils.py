"""Small helpers used across the package: atomic writes, seeding, git identity."""

from __future__ import annotations

import errno
import json
import logging
import os
import random
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .errors import FolderBusyError

logger = logging.getLogger(__name__)

# file suffixes no Hub repository name ends with
_DATA_SUFFIXES = (".json", ".jsonl", ".csv", ".tsv", ".parquet", ".txt", ".md", ".gz", ".arrow", ".yaml", ".yml",
                  ".safetensors", ".bin", ".pt")


def looks_local(name: str | os.PathLike) -> bool:
    """Whether `name` can only mean a local path (so a missing one is "not found", never a Hub lookup): it starts
    with /, ./, ../ or ~, ends with a slash, has more than one slash, or ends with a file suffix."""
    s = str(name)
    return (s.startswith(("/", "./", "../", "~")) or s.endswith(("/", os.sep)) or s.count("/") > 1
            or s.lower().endswith(_DATA_SUFFIXES))


MAX_NAME_BYTES = 120  # file names made from data: well under the 255 bytes most file systems allow


def safe_name(text: Any, suffix: str = "") -> str:
    """A file name made from text that came from data (a detector id, a model label, a row's field): one path
    component that cannot leave its folder. Path separators, `..`, NUL and other control characters and characters
    Windows refuses become `_`; a leading dot is dropped (no hidden or relative names); names longer than
    MAX_NAME_BYTES (UTF-8) are cut and end with a hash of the whole text, so different long texts stay different;
    an empty result is `_`. `suffix` (e.g. ".jsonl") is appended after the cut."""
    import hashlib
    import re

    raw = str(text)
    name = re.sub(r'[\x00-\x1f\x7f/\\:*?"<>|]', "_", raw).strip().lstrip(".").strip()
    name = name or "_"
    limit = MAX_NAME_BYTES - len(suffix.encode("utf-8"))
    if len(name.encode("utf-8")) > limit:
        digest = hashlib.sha256(raw.encode("utf-8", "surrogatepass")).hexdigest()[:12]
        cut = name.encode("utf-8")[: limit - len(digest) - 1].decode("utf-8", "ignore")
        name = f"{cut}-{digest}"
    return name + suffix


def child_path(folder: str | os.PathLike, text: Any, suffix: str = "") -> Path:
    """`folder / safe_name(text, suffix)`: a path for a data-derived name that stays inside `folder`."""
    path = Path(folder) / safe_name(text, suffix)
    assert path.parent == Path(folder)  # one component, by construction
    return path


def counted(n: int, noun: str, plural: str | None = None) -> str:
    """`n` and the noun, plural unless `n` is 1: "1 row", "3 rows", "1 text", "0 findings"."""
    return f"{n} {noun if n == 1 else (plural or noun + 's')}"


def not_found_message(name: str | os.PathLike) -> str:
    return f"not found: {name} (no such file or folder here; not a Hub name either)"


def current_umask() -> int:
    """The process's umask (read by setting it and setting it back: there is no other portable way)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write `text` to `path` so that a crash never leaves a half-written file (write to a temp file, then rename).

    The file gets the mode a plain `open()` would give it (0666 less the umask), not `mkstemp`'s owner-only 0600:
    a report or a CI artefact must be readable by whoever the umask allows."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.chmod(tmp, 0o666 & ~current_umask())
        with disk_errors(path), os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_json(path: str | os.PathLike, obj: Any) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=False, default=json_default) + "\n")


def json_default(o: Any):
    """The `default=` of `json.dumps` for what sentinel writes: an enum as its value, an object with `to_dict()` as
    that dict, a numpy or torch scalar as a number, a set or tuple as a list, a path as a string; TypeError otherwise.
    """
    import enum

    if isinstance(o, enum.Enum):
        return o.value
    if hasattr(o, "to_dict"):
        return o.to_dict()
    if hasattr(o, "item"):  # numpy / torch scalars
        return o.item()
    if isinstance(o, (set, tuple)):
        return list(o)
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON-serialisable: {type(o).__name__}")


@contextmanager
def atomic_directory(final: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary sibling folder; on success it replaces `final`, on error it is removed.

    A crashed run therefore never leaves a folder at `final` that looks finished.
    """
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=final.parent, prefix=f".{final.name}.", suffix=".partial"))
    try:
        os.chmod(tmp, 0o777 & ~current_umask())  # a plain mkdir's mode, not mkdtemp's owner-only 0700
        yield tmp
        if final.exists():
            old = final.with_name(f".{final.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            final.rename(old)
            tmp.rename(final)
            shutil.rmtree(old, ignore_errors=True)
        else:
            tmp.rename(final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


# How the writers that do not raise OSError report a write that failed: safetensors (its Rust I/O error) and torch's
# zip writer (PytorchStreamWriter / inline_container, whose message rarely says why).
_DISK_FULL_WORDS = ("no space left on device", "os error 28", "storagefull", "disk quota exceeded")
# the errors of a write that the file system refused (others, a refused connection say, are not about `path`)
_DISK_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EIO, errno.EROFS}
_TORCH_WRITER_WORDS = ("pytorchstreamwriter", "inline_container", "file write failed")


@contextmanager
def disk_errors(path: str | os.PathLike) -> Iterator[None]:
    """Writes into `path` (a file or folder) whose failure is the file system's end as an `OSError` that names a
    path: a full disk as `OSError(ENOSPC, ..., path)` whichever library was writing (safetensors and torch raise
    their own exception types), and a file-system `OSError` without a file name (full, over quota, read-only, I/O
    error) gets `path`. Other errors pass unchanged."""
    try:
        yield
    except OSError as e:
        if e.filename is None and e.errno in _DISK_ERRNOS:
            raise OSError(e.errno, e.strerror or os.strerror(e.errno), str(path)) from e
        raise
    except Exception as e:
        text = str(e).lower()
        if any(w in text for w in _DISK_FULL_WORDS):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path)) from e
        if any(w in text for w in _TORCH_WRITER_WORDS):
            full = _free_bytes(Path(path)) < 2**20
            code = errno.ENOSPC if full else errno.EIO
            raise OSError(code, os.strerror(code) if full else f"write failed ({e})", str(path)) from e
        raise


def _free_bytes(path: Path) -> int:
    """Free bytes on the file system holding `path` (its nearest existing ancestor); large when unknown."""
    for p in (path, *path.parents):
        if p.exists():
            try:
                return shutil.disk_usage(p).free
            except OSError:
                break
    return 2**62


# Folders this process holds the lock of: {lock file: (descriptor, depth)}; a nested `folder_lock` of the same folder
# (a stage run inside a run that already holds it) takes it again instead of refusing itself.
_HELD: dict[str, tuple[int, int]] = {}


def lock_path(folder: str | os.PathLike) -> Path:
    """The lock file of `folder`: `.NAME.sentinel-lock` beside it, outside the folder that `atomic_directory`
    replaces (a name of its own: a plain `.NAME.lock` may be another tool's lock on the same folder)."""
    folder = Path(os.path.abspath(folder))
    return folder.with_name(f".{folder.name}.sentinel-lock")


@contextmanager
def folder_lock(folder: str | os.PathLike) -> Iterator[None]:
    """Hold `folder` for writing: a second holder, in any process, gets `FolderBusyError` naming the holder's pid.

    The lock is an advisory `flock` on `lock_path(folder)`: the kernel drops it when its process ends, however it
    ends (a SIGKILLed run does not leave its folder locked). The lock file is removed on release; one left by a
    killed process is taken over. Without `fcntl` (Windows) nothing is locked."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover
        yield
        return
    path = lock_path(folder)
    key = str(path)
    if key in _HELD:
        fd, depth = _HELD[key]
        _HELD[key] = (fd, depth + 1)
        try:
            yield
        finally:
            _HELD[key] = (fd, depth)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666 & ~current_umask())
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise FolderBusyError(Path(folder), _holder(path)) from None
        except OSError as e:  # a file system without locks (some network mounts): write unlocked, as before
            os.close(fd)
            logger.warning("cannot lock %s (%s); another run could write %s at the same time", path, e, folder)
            fd = -1
            break
        except BaseException:
            os.close(fd)
            raise
        try:
            same = os.stat(path).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)  # the holder removed this file as we opened it: lock the one now at `path`
    if fd < 0:
        yield
        return
    try:
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        _HELD[key] = (fd, 1)
        yield
    finally:
        _HELD.pop(key, None)
        path.unlink(missing_ok=True)  # while still locked, so no one can hold the file being removed
        os.close(fd)


def _holder(path: Path) -> int | None:
    """The pid written in the lock file `path` (None when it cannot be read)."""
    try:
        return int(path.read_text(encoding="utf-8").split()[0])
    except (OSError, ValueError, IndexError):
        return None


def clear_interrupted_writes(final: str | os.PathLike) -> None:
    """Undo what an `atomic_directory(final)` killed part-way left beside `final`: the folder it was building
    (`.NAME.<8 random characters>.partial`) goes, and `final` moved aside (`.NAME.old`) just before the swap comes
    back. Call it while holding `folder_lock(final)`, so that no live writer is building them."""
    final = Path(final)
    for p in final.parent.glob(f".{final.name}.*.partial"):
        middle = p.name[len(final.name) + 2 : -len(".partial")]
        if len(middle) == 8 and "." not in middle:  # mkdtemp's 8 random characters, not another folder's name
            shutil.rmtree(p, ignore_errors=True)
    old = final.with_name(f".{final.name}.old")
    if old.is_dir() and not final.exists():
        old.rename(final)


def set_seed(seed: int) -> None:
    """Seed python, numpy and torch (when installed)."""
    random.seed(seed)
    try:
        import numpy as np

        np.random.seed(seed % (2**32))
    except ImportError:  # pragma: no cover
        pass
    try:
        import torch

        torch.manual_seed(seed)
    except ImportError:  # pragma: no cover
        pass


def git_revision() -> str | None:
    """The git commit of the installed package source, when it is a checkout; None otherwise."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=Path(__file__).parent,
            capture_output=True,
            text=True,
            timeout=5,
        )
        return out.stdout.strip() or None if out.returncode == 0 else None
    except (OSError, subprocess.SubprocessError):
        return None


def _one_thread_call(fn_and_item: tuple[Any, Any]) -> Any:
    """A worker process's call of `fn(item)` on one torch thread (see `in_processes`)."""
    import torch

    fn, item = fn_and_item
    torch.set_num_threads(1)
    return fn(item)


def in_processes(fn: Any, items: list[Any], workers: int) -> list[Any]:
    """`[fn(x) for x in items]`, spread over `workers` fresh ("spawn") processes of one torch thread each when there
    are two or more items and workers; in this process otherwise. `fn` must be a module-level function and the items
    picklable. Independent training runs on a multi-core CPU: small models use one core each far better than two."""
    if workers < 2 or len(items) < 2:
        return [fn(x) for x in items]
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    context = multiprocessing.get_context("spawn")  # no forked copy of this process's threads and locks
    with ProcessPoolExecutor(min(workers, len(items)), mp_context=context) as pool:
        return list(pool.map(_one_thread_call, [(fn, x) for x in items]))
