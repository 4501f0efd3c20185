"""Progress bars for the long loops (scanning a file, scoring texts with a reward model, asking a chat model):
rich bars with a count and items per second on stderr, shown only when stderr is a terminal, so pipes, logs and
CI output stay clean. `sentinel -q` (or `-q` after any command) and `SENTINEL_PROGRESS=0` silence them.

    with progress("reward model", total=len(texts), unit="texts") as advance:
        for batch in batches:
            ...
            advance(len(batch))
    for row in track(rows, "scan prefs.jsonl", total=len(rows), unit="rows"):
        ...

Bars do not nest: while one is shown, an inner `progress()` is silent (its `advance` does nothing).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import IO, Any, TypeVar

T = TypeVar("T")

MAX_DESCRIPTION = 32  # characters of a bar's label
_state: dict[str, Any] = {"enabled": True, "active": False}


def set_enabled(on: bool) -> None:
    """Turn progress bars on or off for this process (the command line's `-q` turns them off)."""
    _state["enabled"] = bool(on)


def shown(stream: IO[str] | None = None) -> bool:
    """Whether a bar would be drawn on `stream` (default stderr): enabled, not silenced by SENTINEL_PROGRESS=0,
    and the stream is a terminal."""
    stream = sys.stderr if stream is None else stream
    if not _state["enabled"] or os.environ.get("SENTINEL_PROGRESS", "1") == "0":
        return False
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def _noop(n: int = 1) -> None:
    return None


@contextmanager
def progress(description: str, total: int | None = None, unit: str = "items",
             stream: IO[str] | None = None) -> Iterator[Callable[[int], None]]:
    """A bar for a loop of `total` `unit`s (None: unknown); yields `advance(n=1)`. Silent unless `shown(stream)`
    and no other bar is being drawn. The bar is removed when the loop ends."""
    if _state["active"] or not shown(stream):
        yield _noop
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, ProgressColumn, TextColumn, TimeElapsedColumn
    from rich.text import Text

    class Rate(ProgressColumn):
        def render(self, task) -> Text:
            speed = task.finished_speed or task.speed
            return Text(f"{speed:,.1f} {unit}/s" if speed else f"? {unit}/s")

    stream = sys.stderr if stream is None else stream
    columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn() if total else
               TextColumn("{task.completed} " + unit), Rate(), TimeElapsedColumn()]
    bar = Progress(*columns, console=Console(file=stream), transient=True)
    if len(description) > MAX_DESCRIPTION:  # the bar and its rate keep their room on a narrow terminal
        description = "..." + description[-(MAX_DESCRIPTION - 3):]
    task = bar.add_task(description, total=total)
    _state["active"] = True
    def advance(n: int = 1) -> None:
        bar.advance(task, n)

    try:
        with bar:
            yield advance
    finally:
        _state["active"] = False


def track(items: Iterable[T], description: str, total: int | None = None, unit: str = "items",
          stream: IO[str] | None = None) -> Iterator[T]:
    """`items`, one at a time, with a progress bar (as `progress`) advanced after each."""
    with progress(description, total, unit, stream) as advance:
        for item in items:
            yield item
            advance(1)


__all__ = ["progress", "set_enabled", "shown", "track"]
