"""Moved to `sentinel.models.scorers`; this path keeps working for one release."""

from .._moved import moved

moved(__name__, "sentinel.models.scorers")
