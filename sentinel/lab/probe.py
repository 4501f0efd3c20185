"""Moved to `sentinel.lab.reward_checks`; this path keeps working for one release."""

from .._moved import moved

moved(__name__, "sentinel.lab.reward_checks")
