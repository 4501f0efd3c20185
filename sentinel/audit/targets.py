"""Moved to `sentinel.audit.scoring`; this path keeps working for one release."""

from .._moved import moved

moved(__name__, "sentinel.audit.scoring")
