"""Command-line interface. `sentinel --help` lists the command groups."""

from .main import build_parser, main

__all__ = ["build_parser", "main"]
