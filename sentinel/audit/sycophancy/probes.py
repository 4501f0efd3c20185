"""Moved to `sentinel.audit.sycophancy.pressure_probes`; this path keeps working for one release."""

from ..._moved import moved

moved(__name__, "sentinel.audit.sycophancy.pressure_probes")
