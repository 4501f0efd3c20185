"""Moved to `sentinel.audit.sycophancy.chat_targets`; this path keeps working for one release."""

from ..._moved import moved

moved(__name__, "sentinel.audit.sycophancy.chat_targets")
