"""Moved to `sentinel.demo.run`; this path keeps working for one release."""

from .._moved import moved

moved(__name__, "sentinel.demo.run")
