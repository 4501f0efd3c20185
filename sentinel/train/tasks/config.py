"""Moved to `sentinel.train.tasks.task_configs`; this path keeps working for one release."""

from ..._moved import moved

moved(__name__, "sentinel.train.tasks.task_configs")
