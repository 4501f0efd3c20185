"""The `sentinel` command.

Each `cmd_*` module of this package declares `GROUP` (None for a top-level command, else the group it
belongs to, e.g. "audit") and `register(subparsers)`. Modules import heavy libraries (torch, transformers) only
inside their command functions, so `sentinel --help` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from .._version import __version__
from ..config import join_switch_values
from ..errors import FolderBusyError, SentinelError

# exit code of a command refused because another live process writes its output folder (sysexits' EX_TEMPFAIL:
# nothing is wrong with the command, it can be run again once the other one ends)
EXIT_BUSY = 75

# what `pip install 'sentinel-rlhf[train]'` adds to the light core (pyproject.toml)
TRAIN_EXTRA = ("torch", "transformers", "trl", "peft", "accelerate", "datasets", "safetensors", "tokenizers")

GROUPS = {
    "data": "read, validate and convert instruction and preference data",
    "lab": "the built-in RLHF lab: a small world with exact ground truth",
    "train": "fine-tune: classify, ner, qa, domain, sft, reward, dpo, ppo, grpo, rloo",
    "eval": "measure a model: perplexity on documents",
    "audit": "audit reward models, chat models, preference data and training runs",
    "attack": "search for inputs that fool a reward model",
    "report": "work with saved reports: add one to a model card",
}

def _load_modules():
    """Every `cmd_*` module of `sentinel.cli` (one per command or command group), in a stable order."""
    import pkgutil

    from . import __path__ as cli_path

    names = sorted(m.name for m in pkgutil.iter_modules(cli_path) if m.name.startswith("cmd_"))
    for name in names:
        module = importlib.import_module(f"sentinel.cli.{name}")
        if hasattr(module, "register"):
            yield module


class StrictParser(argparse.ArgumentParser):
    """No abbreviated flags (`--learning-rat` is an error, not `--learning-rate`), here and in every subcommand
    (`add_subparsers` builds its parsers with the parent's class)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def parse_known_args(self, args=None, namespace=None):
        args = sys.argv[1:] if args is None else list(args)
        return super().parse_known_args(join_switch_values(self, args), namespace)


def build_parser() -> argparse.ArgumentParser:
    parser = StrictParser(
        prog="sentinel",
        description="sentinel-rlhf: run the fine-tuning / RLHF lifecycle and secure it.",
        epilog="Exit codes of audit and scan commands: 0 nothing at or above --fail-on, 1 findings at or above it, "
        "2 usage or input error.",
    )
    parser.add_argument("--version", action="version", version=f"sentinel-rlhf {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks and debug logs")
    parser.add_argument("-q", "--quiet", action="store_true", help="only warnings and errors; no progress bars")
    top = parser.add_subparsers(dest="command", metavar="COMMAND")
    groups: dict[str, argparse._SubParsersAction] = {}
    for name, help_text in GROUPS.items():
        p = top.add_parser(name, help=help_text, description=help_text)
        groups[name] = p.add_subparsers(dest="subcommand", metavar="SUBCOMMAND")
        p.set_defaults(func=lambda args, p=p: (p.print_help(), 2)[1])
    for module in _load_modules():
        group = getattr(module, "GROUP", None)
        module.register(groups[group] if group else top)
    for sub in leaf_parsers(parser).values():
        if not {"-q", "--quiet"} & set(sub._option_string_actions):
            # the global -q, also after the command; no default, so it never undoes a -q given before it
            sub.add_argument("-q", "--quiet", action="store_true", default=argparse.SUPPRESS,
                             help="only warnings and errors; no progress bars")
    return parser


def leaf_parsers(parser: argparse.ArgumentParser, prefix: str = "sentinel") -> dict[str, argparse.ArgumentParser]:
    """Every command's parser ("sentinel scan", "sentinel audit data", ...) by its command line: the parsers with no
    subcommands of their own."""
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        return {prefix: parser}
    out: dict[str, argparse.ArgumentParser] = {}
    for action in subs:
        for name, sub in action.choices.items():
            out.update(leaf_parsers(sub, f"{prefix} {name}"))
    return out


def setup_logging(debug: bool, quiet: bool) -> None:
    level = logging.DEBUG if debug else logging.WARNING if quiet else logging.INFO
    try:
        from rich.console import Console
        from rich.logging import RichHandler

        # logs go to stderr: stdout holds the command's result (a table, or JSON that a pipe parses)
        handler: logging.Handler = RichHandler(console=Console(stderr=True), show_path=debug, show_time=False,
                                               markup=False)
    except ImportError:  # pragma: no cover
        handler = logging.StreamHandler()
    root = logging.getLogger("sentinel")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False
    from .. import progress

    progress.set_enabled(not quiet)
    if quiet:
        import os

        os.environ.setdefault("TQDM_DISABLE", "1")


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    setup_logging(args.debug, args.quiet)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        code = args.func(args)
    except SentinelError as e:
        if args.debug:
            raise
        print(f"sentinel: error: {_as_typed(e, parser, args, argv)}", file=sys.stderr)
        return EXIT_BUSY if isinstance(e, FolderBusyError) else 2
    except ModuleNotFoundError as e:
        top = (e.name or "").split(".")[0]
        if args.debug or top not in TRAIN_EXTRA:
            raise
        from ..errors import MissingDependencyError

        print(f"sentinel: error: {MissingDependencyError(top, 'train', 'this command')}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("sentinel: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (`sentinel scan ... | head -1`): stop quietly, as Unix tools do (killed by SIGPIPE).
        _silence_stdout()
        return 141
    except OSError as e:
        if args.debug:
            raise
        print(f"sentinel: error: {_os_error(e)}", file=sys.stderr)
        return 2
    except Exception as e:  # a bug: one line, its own exit code, the traceback behind --debug
        if args.debug:
            raise
        print(f"sentinel: internal error: {type(e).__name__}: {e} (rerun with --debug for the traceback; this is a "
              "bug, please report it)", file=sys.stderr)
        return 3
    return int(code or 0)


def _os_error(e: OSError) -> str:
    """An OS error as one line naming its path: "out/report.json: Permission denied", "p.jsonl: File exists"."""
    where = " -> ".join(str(f) for f in (e.filename, e.filename2) if f is not None)
    what = e.strerror or str(e)
    return f"{where}: {what}" if where else what


def _silence_stdout() -> None:
    """Point stdout at /dev/null so that the interpreter's final flush does not raise on the closed pipe again."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # no real file descriptor (tests capture stdout)
        pass


def _as_typed(error: SentinelError, parser: argparse.ArgumentParser, args, argv: list[str] | None) -> str:
    """A ConfigError about a field the user gave on the command line, named as the user typed it (`--max-steps`,
    a positional's `FILE`) instead of "config field 'max_steps'"; other errors as they are."""
    from ..errors import ConfigError

    if not isinstance(error, ConfigError) or not error.field:
        return str(error)
    typed = sys.argv[1:] if argv is None else argv
    sub = parser
    for name in (getattr(args, "command", None), getattr(args, "subcommand", None)):
        choices = next((a.choices for a in sub._actions if isinstance(a, argparse._SubParsersAction)), {})
        if name in choices:
            sub = choices[name]
    for action in sub._actions:
        if action.dest != error.field.replace("-", "_"):
            continue
        if not action.option_strings:
            return f"{action.metavar or action.dest.upper()}: {error.reason}"
        given = [o for o in action.option_strings if any(t == o or t.startswith(o + "=") for t in typed)]
        if given:
            return f"{given[0]}: {error.reason}"
    return str(error)


def entry_point() -> None:  # console script
    sys.exit(main())
