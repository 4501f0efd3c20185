"""The exception hierarchy. Every error the library raises on purpose is a `SentinelError`.

The CLI turns a `SentinelError` into a one-line message and exit code 2; anything else is a bug.
"""

from __future__ import annotations


class SentinelError(Exception):
    """Root of every error raised on purpose by sentinel."""


class DataError(SentinelError, ValueError):
    """Bad input data. The message names the file, the line or row, the field and what was expected."""

    def __init__(
        self,
        message: str,
        *,
        path=None,
        line: int | None = None,
        row: int | None = None,
        field: str | None = None,
    ):
        self.path = str(path) if path is not None else None
        self.line = line
        self.row = row
        self.field = field
        where = []
        if self.path:
            where.append(self.path)
        if line is not None:
            where.append(f"line {line}")
        if row is not None:
            where.append(f"row {row}")
        if field:
            where.append(f"field '{field}'")
        self.reason = message
        super().__init__(f"{', '.join(where)}: {message}" if where else message)


class ConfigError(SentinelError, ValueError):
    """A configuration value is unknown, of the wrong type or out of range. The message names the field."""

    def __init__(self, message: str, *, field: str | None = None):
        self.field = field
        self.reason = message
        super().__init__(f"config field '{field}': {message}" if field else message)


class FolderBusyError(SentinelError):
    """Another live process is writing the output folder this run would write (the CLI exits 75, "try again
    later"). `.path` is the folder, `.pid` the other process's id when known."""

    def __init__(self, path, pid: int | None = None):
        self.path = str(path)
        self.pid = pid
        who = f"process {pid}" if pid else "another process"
        super().__init__(f"{self.path}: {who} is writing this folder; wait for it to finish, or write elsewhere")


class ModelLoadError(SentinelError):
    """A model or tokenizer could not be loaded, or loading it would be unsafe."""


class MissingDependencyError(SentinelError, ImportError):
    """An optional dependency is not installed. The message gives the pip command that fixes it."""

    def __init__(self, package: str, extra: str, purpose: str = ""):
        self.package = package
        self.extra = extra
        why = f" (needed for {purpose})" if purpose else ""
        super().__init__(
            f"'{package}' is not installed{why}. Install it with: pip install 'sentinel-rlhf[{extra}]'"
        )
