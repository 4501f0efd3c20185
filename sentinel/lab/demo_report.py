"""Moved to `sentinel.demo.tables`; this path keeps working for one release."""

from .._moved import moved

moved(__name__, "sentinel.demo.tables")
