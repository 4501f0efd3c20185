"""Data: read any supported file or dataset, recognise its format, convert it to canonical shapes.

>>> from sentinel.data import load_preferences
>>> pairs = load_preferences("helpful-base-test.jsonl.gz", skip_invalid=True)
"""

from .formats import (
    INSTRUCTION_FORMATS,
    INSTRUCTION_TARGETS,
    PREFERENCE_FORMATS,
    PREFERENCE_TARGETS,
    as_messages,
    detect_format,
    parse_hh_dialogue,
    prompt_text,
    render_transcript,
    simple_prompt,
)
from .io import Rows, read_json, read_rows, write_rows
from .load import Loaded, convert, length_stats, load, load_instructions, load_preferences, validate

__all__ = [
    "INSTRUCTION_FORMATS", "INSTRUCTION_TARGETS", "PREFERENCE_FORMATS", "PREFERENCE_TARGETS", "Loaded", "Rows",
    "as_messages", "convert", "detect_format", "length_stats", "load", "load_instructions", "load_preferences",
    "parse_hh_dialogue", "prompt_text", "read_json", "read_rows", "render_transcript", "simple_prompt", "validate",
    "write_rows",
]
