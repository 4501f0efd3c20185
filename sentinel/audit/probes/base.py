"""Moved to `sentinel.audit.probes.probe`; this path keeps working for one release."""

from ..._moved import moved

moved(__name__, "sentinel.audit.probes.probe")
