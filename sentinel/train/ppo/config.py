"""Moved to `sentinel.train.ppo.ppo_config`; this path keeps working for one release."""

from ..._moved import moved

moved(__name__, "sentinel.train.ppo.ppo_config")
