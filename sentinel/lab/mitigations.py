"""Moved to `sentinel.demo.mitigations`; this path keeps working for one release."""

from .._moved import moved

moved(__name__, "sentinel.demo.mitigations")
