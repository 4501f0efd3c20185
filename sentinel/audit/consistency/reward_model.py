"""Moved to `sentinel.audit.consistency.rm_stability`; this path keeps working for one release."""

from ..._moved import moved

moved(__name__, "sentinel.audit.consistency.rm_stability")
