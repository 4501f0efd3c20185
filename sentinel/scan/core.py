"""Moved to `sentinel.scan.scanner`; this path keeps working for one release."""

from .._moved import moved

moved(__name__, "sentinel.scan.scanner")
