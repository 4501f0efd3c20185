"""Moved to `sentinel.scan.detectors.base_detector`; this path keeps working for one release."""

from ..._moved import moved

moved(__name__, "sentinel.scan.detectors.base_detector")
