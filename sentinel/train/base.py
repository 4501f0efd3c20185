"""Moved to `sentinel.train.stage`; this path keeps working for one release."""

from .._moved import moved

moved(__name__, "sentinel.train.stage")
