"""Moved to `sentinel.audit.consistency.consistency_config`; this path keeps working for one release."""

from ..._moved import moved

moved(__name__, "sentinel.audit.consistency.consistency_config")
