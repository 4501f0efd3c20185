"""A small plugin registry, shared by probes, detectors and loss functions.

It refuses duplicate names and answers an unknown name with close matches and the full list,
so a typo on the command line is a one-line fix.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from .errors import ConfigError

T = TypeVar("T")


class Registry(Generic[T]):
    """Maps names to plugin classes (or functions). `kind` is used in error messages ("probe", "detector")."""

    def __init__(self, kind: str):
        self.kind = kind
        self._items: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        def decorator(obj: T) -> T:
            if name in self._items:
                raise ValueError(f"{self.kind} '{name}' is already registered by {self._items[name]!r}")
            self._items[name] = obj
            if isinstance(obj, type) and not getattr(obj, "id", None):
                obj.id = name  # type: ignore[attr-defined]
            return obj

        return decorator

    def get(self, name: str) -> T:
        try:
            return self._items[name]
        except KeyError:
            close = difflib.get_close_matches(name, self._items, n=3)
            hint = f" did you mean {', '.join(repr(c) for c in close)}?" if close else ""
            raise ConfigError(
                f"unknown {self.kind} '{name}'.{hint} available: {', '.join(sorted(self._items))}",
                field=self.kind,
            ) from None

    def resolve(self, names: list[str] | None) -> list[T]:
        """The plugins named, in order; all of them when `names` is None."""
        if names is None:
            return list(self._items.values())
        return [self.get(n) for n in names]

    def names(self) -> list[str]:
        return list(self._items)

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)
