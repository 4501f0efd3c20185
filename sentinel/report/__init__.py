"""Findings and reports: the one output shape of every audit, checker and scan."""

from .finding import Effect, Finding, Severity
from .report import SCHEMA_VERSION, Report

__all__ = ["Effect", "Finding", "Report", "SCHEMA_VERSION", "Severity"]
