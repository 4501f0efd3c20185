"""Config dataclasses <-> YAML files <-> command-line flags.

Every training and audit config is a dataclass whose fields carry `metadata={"help": ...}`. A YAML file maps
one to one onto the fields; any field can be overridden by a `--field-name` flag generated from the same
dataclass. Unknown fields and wrong types raise `ConfigError` naming the field.
"""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import json
import types
import typing
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

from .errors import ConfigError

C = TypeVar("C")
# how a true/false value may be spelt in YAML, on the command line and in environment variables
BOOL_WORDS = {"true": True, "1": True, "yes": True, "on": True, "false": False, "0": False, "no": False, "off": False}


def _base_type(tp: Any) -> tuple[Any, bool]:
    """The concrete type of an annotation and whether None is allowed (Optional[X] / X | None)."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        optional = len(args) < len(typing.get_args(tp))
        return (args[0] if len(args) == 1 else Any), optional
    return tp, False


def _to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in BOOL_WORDS:
        return BOOL_WORDS[value.lower()]
    raise ValueError


def _to_int(value: Any) -> int:
    if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
        raise ValueError
    return int(value)


def _to_float(value: Any) -> float:
    if isinstance(value, bool):
        raise ValueError
    return float(value)


def _to_str(value: Any) -> str:
    if isinstance(value, (dict, list)):
        raise ValueError
    return str(value)


_SCALARS: dict[Any, Callable[[Any], Any]] = {bool: _to_bool, int: _to_int, float: _to_float, str: _to_str}


def _to_list(name: str, value: Any, base: Any) -> list:
    """A list from a list, a tuple or a comma-separated flag string, each item coerced to the item type."""
    (item_tp, *_) = typing.get_args(base) or (Any,)
    if isinstance(value, str):
        value = [v.strip() for v in value.split(",") if v.strip()]
    if not isinstance(value, (list, tuple)):
        raise ValueError
    return [coerce(name, v, item_tp) for v in value]


def _to_dict(name: str, value: Any) -> dict:
    """A mapping from a mapping or, given as a flag, a JSON object."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as e:
            raise ConfigError(f"expected a JSON object, got {value!r}: {e}", field=name) from None
    if not isinstance(value, dict):
        raise ValueError
    return dict(value)


def _convert(name: str, value: Any, base: Any) -> Any:
    """`value` as the (non-optional) type `base`; ValueError or TypeError where it cannot be."""
    if base in _SCALARS:
        return _SCALARS[base](value)
    origin = typing.get_origin(base)
    if origin in (list, tuple):
        return _to_list(name, value, base)
    if origin is dict or base is dict:
        return _to_dict(name, value)
    if origin is typing.Literal and value not in typing.get_args(base):
        raise ConfigError(f"got {value!r}; expected one of {list(typing.get_args(base))}", field=name)
    return value  # Any, a Literal's member, or a type this module leaves as given


def coerce(name: str, value: Any, tp: Any) -> Any:
    """Convert `value` (from YAML or a flag string) to the field type `tp`; ConfigError naming `name` if impossible."""
    base, optional = _base_type(tp)
    if value is None or (isinstance(value, str) and value.lower() in ("none", "null") and optional):
        if optional or base is Any:
            return None
        raise ConfigError(f"must not be empty (expected {getattr(base, '__name__', base)})", field=name)
    try:
        return _convert(name, value, base)
    except ConfigError:  # a ValueError that already names the field and what was expected
        raise
    except (TypeError, ValueError):
        raise ConfigError(
            f"got {value!r} ({type(value).__name__}); expected {getattr(base, '__name__', str(base))}", field=name
        ) from None


def fields_of(cls) -> dict[str, dataclasses.Field]:
    """The dataclass fields of `cls` by name, each field's `type` the resolved annotation (not a string)."""
    hints = typing.get_type_hints(cls)
    out = {}
    for f in dataclasses.fields(cls):
        f.type = hints.get(f.name, f.type)
        out[f.name] = f
    return out


def _unknown_field(key: str, names: Iterable[str], source: str) -> ConfigError:
    """The error for a key no field declares, naming the closest field names."""
    close = difflib.get_close_matches(key.replace("-", "_"), names, n=2)
    hint = f" did you mean {', '.join(close)}?" if close else ""
    return ConfigError(f"unknown field in {source}.{hint}", field=key)


def from_dict(cls: type[C], data: dict[str, Any], *, source: str = "config") -> C:
    """Build the dataclass `cls` from a mapping, refusing unknown keys and wrong types."""
    fields = fields_of(cls)
    kwargs = {}
    for key, value in data.items():
        if not isinstance(key, str):  # YAML allows any key: `? ` alone is {None: None}, `1: x` is {1: "x"}
            raise ConfigError(f"{source}: a field name must be text, got {key!r}")
        name = key.replace("-", "_")
        if name not in fields:
            raise _unknown_field(key, fields, source)
        kwargs[name] = coerce(name, value, fields[name].type)
    try:
        return cls(**kwargs)
    except TypeError as e:  # a required field is missing
        raise ConfigError(f"{source}: {e}") from None


# The most values a config file may expand to once its aliases are followed: far above any real config, far below
# what an alias bomb ("billion laughs": each level repeats the one before ten times) expands to.
MAX_YAML_VALUES = 100_000


def _check_expansion(root: Any, path: Path) -> None:
    """ConfigError when the YAML node graph `root` refers to itself through an alias or expands to more than
    MAX_YAML_VALUES values: loading it would build an endless or exponentially large structure."""
    import yaml

    sizes: dict[int, int] = {}
    open_nodes: set[int] = set()

    def size(node: Any) -> int:
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in open_nodes:
            mark = node.start_mark
            raise ConfigError(f"{path}: line {mark.line + 1}: a YAML alias refers to the value that contains it")
        open_nodes.add(key)
        if isinstance(node, yaml.SequenceNode):
            n = 1 + sum(size(c) for c in node.value)
        elif isinstance(node, yaml.MappingNode):
            n = 1 + sum(size(k) + size(v) for k, v in node.value)
        else:
            n = 1
        open_nodes.discard(key)
        if n > MAX_YAML_VALUES:
            raise ConfigError(f"{path}: its YAML aliases expand to more than {MAX_YAML_VALUES:,} values (an alias "
                              "bomb?)")
        sizes[key] = n
        return n

    if root is not None:
        size(root)


def load_yaml(path: str | Path) -> dict[str, Any]:
    import yaml

    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"config file not found: {p}")
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise ConfigError(f"{p}: not UTF-8 text (byte {e.start})") from None
    try:
        _check_expansion(yaml.compose(text, Loader=yaml.SafeLoader), p)
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise ConfigError(f"{p}: invalid YAML{where}: {getattr(e, 'problem', e)}") from None
    except RecursionError:
        raise ConfigError(f"{p}: YAML nested too deeply") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{p}: expected a mapping of field: value at the top level, got {type(data).__name__}")
    return data


def add_arguments(parser: argparse.ArgumentParser, *classes: type, skip: tuple[str, ...] = ()) -> None:
    """Add one `--field-name` flag per field of the dataclasses `classes`, help taken from the field metadata; a
    field that several of them declare gets one flag (the first class's help), which fills each (`from_args_many`).

    Flags the user did not give are left out of the namespace (`argparse.SUPPRESS`), so that only flags given
    override the YAML file; the help states each field's default once, or "required" for a field whose default is
    the empty string (the stage checks it).
    """
    seen = set(skip)
    for cls in classes:
        _add_fields(parser, cls, seen)


def _add_fields(parser: argparse.ArgumentParser, cls: type, seen: set[str]) -> None:
    group = parser.add_argument_group(f"{cls.__name__} fields (override the --config file)")
    for name, f in fields_of(cls).items():
        if name in seen or name.startswith("_"):
            continue
        seen.add(name)
        base, _ = _base_type(f.type)
        help_text = f.metadata.get("help", "")
        default = f.default if f.default is not dataclasses.MISSING else None
        if f.default_factory is not dataclasses.MISSING:
            default = f.default_factory()
        shown = "required" if default == "" else "default: not set" if default is None else f"default: {default}"
        if "(default" not in help_text:  # a help string that explains its default says it once
            help_text = f"{help_text} ({shown})" if help_text else f"({shown})"
        flag = "--" + name.replace("_", "-")
        if base is bool:
            group.add_argument(flag, dest=name, default=argparse.SUPPRESS, action=Switch, takes_value=True,
                               help=help_text.replace("%", "%%"))
        elif typing.get_origin(base) in (list, tuple):
            group.add_argument(flag, dest=name, default=argparse.SUPPRESS, nargs="+", action=ListOption,
                               metavar=name.upper(), help=help_text.replace("%", "%%"))
        else:
            group.add_argument(flag, dest=name, default=argparse.SUPPRESS, help=help_text.replace("%", "%%"))


class ListOption(argparse.Action):
    """A list option, the same in every command: `--probes a b` or `--probes a,b` (both give ["a", "b"])."""

    def __call__(self, parser, namespace, values, option_string=None):
        setattr(namespace, self.dest, [v.strip() for value in values for v in str(value).split(",") if v.strip()])


class Switch(argparse.Action):
    """A boolean option, the same in every command: `--name` turns it on, `--no-name` off. A switch generated from a
    config field (`takes_value`) also takes the YAML spelling, `--name true|false` or `--name=false`, once the
    argument list has gone through `join_switch_values` (the `sentinel` parser does this)."""

    def __init__(self, option_strings, dest, default=None, help=None, takes_value=False, **kwargs):
        strings = []
        for s in option_strings:
            strings.append(s)
            if s.startswith("--") and not s.startswith("--no-"):
                strings.append("--no-" + s[2:])
        super().__init__(strings, dest, nargs=0, default=default, help=help, **kwargs)
        self.takes_value = takes_value

    def __call__(self, parser, namespace, values, option_string=None):
        setattr(namespace, self.dest, not (option_string or "").startswith("--no-"))

    def format_usage(self) -> str:
        return " | ".join(self.option_strings)


def join_switch_values(parser: argparse.ArgumentParser, argv: list[str]) -> list[str]:
    """Rewrite `--name true|false` and `--name=false` for the value-taking switches of `parser` into `--name` /
    `--no-name`; everything else is left as it is."""
    flags = {s for a in parser._actions if isinstance(a, Switch) and a.takes_value for s in a.option_strings}
    out: list[str] = []
    i = 0
    while i < len(argv):
        token, value = argv[i], None
        if "=" in token and token.split("=", 1)[0] in flags:
            token, value = token.split("=", 1)
        elif token in flags and i + 1 < len(argv) and argv[i + 1].lower() in BOOL_WORDS:
            value = argv[i + 1]
            i += 1
        if token in flags and value is not None:
            if value.lower() not in BOOL_WORDS:
                parser.error(f"argument {token}: expected true or false, got {value!r}")
            on = BOOL_WORDS[value.lower()] != token.startswith("--no-")
            token = ("--" if on else "--no-") + token.removeprefix("--no-").removeprefix("--")
        out.append(token)
        i += 1
    return out


def from_args(cls: type[C], args: argparse.Namespace, config_path: str | Path | None = None,
              base: dict[str, Any] | None = None, translate: Any = None) -> C:
    """`base` (a preset, if any) first, then the YAML file (if any; `translate(data, source)` maps other names onto
    the fields first), then every flag the user actually gave."""
    return from_args_many((cls,), args, config_path, base, translate)[0]


def from_args_many(classes: tuple[type, ...], args: argparse.Namespace, config_path: str | Path | None = None,
                   base: dict[str, Any] | None = None, translate: Any = None) -> tuple[Any, ...]:
    """Several dataclasses filled at once from one preset, one YAML file and the flags given, as `from_args` fills
    one (TRL's scripts do the same with `TrlParser((ScriptArguments, DPOConfig, ModelConfig))`): each key goes to
    every class that declares it; a key that none declares is an error naming it, with the closest field names."""
    yaml_data = load_yaml(config_path) if config_path else {}
    if translate is not None and yaml_data:
        yaml_data = translate(yaml_data, str(config_path))
    data = {**(base or {}), **yaml_data}
    declared = [fields_of(cls) for cls in classes]
    known = set().union(*declared)
    data.update(given_flags(args, known))
    source = str(config_path) if config_path else "flags"
    for key in data:
        if isinstance(key, str) and key.replace("-", "_") not in known:
            raise _unknown_field(key, known, source)
    return tuple(from_dict(cls, {k: v for k, v in data.items()
                                 if not isinstance(k, str) or k.replace("-", "_") in names}, source=source)
                 for cls, names in zip(classes, declared))


def given_flags(args: argparse.Namespace, names: Iterable[str]) -> dict[str, Any]:
    """The flags among `names` that the user gave, with their values: `add_arguments` leaves a flag not given out of
    the namespace, so that it does not override a YAML file or a preset."""
    return {name: getattr(args, name) for name in names if hasattr(args, name)}


def to_dict(cfg: Any) -> dict[str, Any]:
    return dataclasses.asdict(cfg)
