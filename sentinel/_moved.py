"""Old import paths that keep working for one release after a module moved, with a DeprecationWarning.

A module left at its old path holds one line, `moved(__name__, "new.path")`: importing it warns and hands back
the module at the new path (the same object, so classes and registries are not duplicated).
"""

from __future__ import annotations

import importlib
import sys
import warnings


def moved(old: str, new: str) -> None:
    warnings.warn(f"{old} moved to {new}; import it from there (the old path goes in the next release)",
                  DeprecationWarning, stacklevel=3)
    sys.modules[old] = importlib.import_module(new)
