"""MkDocs hook: reference pages generated from the code at build time, so they cannot drift from it.

A page holds a marker comment and the hook replaces it:

- `<!-- generated:cli -->`: every `sentinel` command with its usage and flags, walked from `build_parser()`;
- `<!-- generated:config -->`: the fields of every config dataclass (YAML key = field = `--flag`), with type, default
  and help, and the TRL names a training YAML file may use;
- `<!-- generated:report-schema -->`: the JSON Schema file shipped in the package;
- `<!-- generated:probes -->` / `<!-- generated:detectors -->`: the registered reward-model probes and scan detectors.

Only the checkout's own code is imported (no torch: the CLI and the configs import without it).
"""

from __future__ import annotations

import argparse
import dataclasses
import html
import json
import os
import sys
import typing
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # document this checkout, not whatever sentinel is installed
    sys.path.insert(0, str(ROOT))


def _cell(text: object) -> str:
    """Text for a Markdown table cell on one line: HTML and Markdown syntax escaped, `code spans` kept as code."""
    s = " ".join(str(text).split())
    parts = s.split("`") if s.count("`") % 2 == 0 else [s.replace("`", "'")]
    out = []
    for i, part in enumerate(parts):
        if i % 2:  # inside a code span: only the table's own separator needs escaping
            out.append("`" + part.replace("|", "\\|") + "`")
            continue
        part = html.escape(part, quote=False)
        for ch in "\\|*_[]":
            part = part.replace(ch, "\\" + ch)
        out.append(part)
    return "".join(out)


def _code(text: object) -> str:
    s = " ".join(str(text).split())
    return f"<code>{html.escape(s).replace('|', '&#124;')}</code>" if s else ""


# ---------------------------------------------------------------------------------------------------------- CLI
def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _helps(parser: argparse.ArgumentParser) -> dict[str, str]:
    """Subcommand name -> its one-line help, as `--help` lists them."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return {c.dest: c.help or "" for c in action._choices_actions}
    return {}


def _help_of(parser: argparse.ArgumentParser, action: argparse.Action) -> str:
    if not action.help or action.help == argparse.SUPPRESS:
        return ""
    return parser._get_formatter()._expand_help(action)


def _arguments_table(parser: argparse.ArgumentParser) -> list[str]:
    lines: list[str] = []
    for group in parser._action_groups:
        actions = [a for a in group._group_actions
                   if not isinstance(a, (argparse._HelpAction, argparse._SubParsersAction))]
        if not actions:
            continue
        title = {"positional arguments": "Arguments", "options": "Options"}.get(group.title, group.title)
        lines += [f"*{_cell(title)}*", "", "| argument | help |", "|---|---|"]
        for a in actions:
            if a.option_strings:
                metavar = "" if a.nargs == 0 else " " + (a.metavar or a.dest.upper())
                if isinstance(a.metavar, tuple):
                    metavar = " " + " ".join(a.metavar)
                name = ", ".join(o + metavar for o in a.option_strings)
            else:
                name = a.metavar or a.dest
            if a.choices and not isinstance(a, argparse._SubParsersAction):
                name += " {" + ",".join(map(str, a.choices)) + "}"
            help_text = _help_of(parser, a)
            if a.required and a.option_strings:
                help_text = f"(required) {help_text}"
            lines.append(f"| {_code(name)} | {_cell(help_text)} |")
        lines.append("")
    return lines


def cli_reference() -> str:
    from sentinel.cli.main import GROUPS, build_parser

    os.environ["COLUMNS"] = "110"  # usage lines wrapped to the page, whatever the terminal
    root = build_parser()
    out = ["## sentinel", "", f"{_cell(root.description)}", "", "```text", root.format_usage().strip(), "```", ""]
    out += _arguments_table(root)
    out += [_cell(root.epilog), ""]
    commands = _subparsers(root)
    leaves: list[tuple[str, argparse.ArgumentParser]] = []
    for name, sub in commands.items():
        children = _subparsers(sub)
        if name in GROUPS:
            leaves += [(f"{name} {child}", p) for child, p in children.items()]
        else:
            leaves.append((name, sub))
    out += ["| command | what it does |", "|---|---|"]
    helps = _helps(root)
    for name, sub in commands.items():
        helps.update({f"{name} {child}": text for child, text in _helps(sub).items()})
    for name, _ in leaves:
        out.append(f"| [`sentinel {name}`](#{_anchor(name)}) | {_cell(helps.get(name, ''))} |")
    out.append("")
    for name, sub in leaves:
        out += [f"## sentinel {name} {{#{_anchor(name)}}}", ""]
        description = sub.description or helps.get(name, "")
        if description:
            out += [_cell(description), ""]
        out += ["```text", sub.format_usage().strip(), "```", ""]
        out += _arguments_table(sub)
    return "\n".join(out)


def _anchor(name: str) -> str:
    return "sentinel-" + name.replace(" ", "-")


# ---------------------------------------------------------------------------------------------------- configs
def _type_name(tp: object) -> str:
    s = tp if isinstance(tp, str) else getattr(tp, "__name__", None) or str(tp)
    return str(s).replace("typing.", "")


def _default(f: dataclasses.Field) -> str:
    if f.default is not dataclasses.MISSING:
        value = f.default
    elif f.default_factory is not dataclasses.MISSING:  # type: ignore[misc]
        value = f.default_factory()  # type: ignore[misc]
    else:
        return "required"
    if value == "":
        return "required"
    return json.dumps(value) if isinstance(value, (str, bool, type(None))) else str(value)


def _fields_table(cls: type, skip: set[str] = frozenset()) -> list[str]:
    hints = typing.get_type_hints(cls)
    lines = ["| field (YAML key, `--flag`) | type | default | help |", "|---|---|---|---|"]
    for f in dataclasses.fields(cls):
        if f.name in skip or f.name.startswith("_"):
            continue
        lines.append(f"| {_code(f.name)} | {_code(_type_name(hints.get(f.name, f.type)))} | {_code(_default(f))} "
                     f"| {_cell(f.metadata.get('help', ''))} |")
    return lines + [""]


def config_reference() -> str:
    from sentinel.audit.consistency.thresholds import ConsistencyConfig
    from sentinel.audit.reward_model import AuditConfig
    from sentinel.audit.sycophancy.detector import SycophancyConfig
    from sentinel.cli.cmd_train_ppo import PPOInputs
    from sentinel.demo.run import DemoConfig
    from sentinel.train import STAGES, TrainConfig
    from sentinel.train.compare import CompareConfig
    from sentinel.train.ppo.hyperparams import PPOConfig
    from sentinel.train.tasks.configs import ClassifyConfig, NERConfig, QAConfig, TaskConfig
    from sentinel.train.trl_names import RENAMED, TRL_LORA_RANK, UNSUPPORTED

    shared = {f.name for f in dataclasses.fields(TrainConfig)}
    out = ["## Shared training fields (`TrainConfig`) {#train-shared}", "",
           "Every `sentinel train` stage below (and the task stages) has these fields.", ""]
    out += _fields_table(TrainConfig)
    for stage, (cls, _fn) in STAGES.items():
        trl = getattr(cls, "TRL_CONFIG", None)
        out += [f"## `sentinel train {stage}` (`{cls.__module__}.{cls.__name__}`) {{#train-{stage}}}", ""]
        if trl:
            out += [f"TRL's `{trl}` field names are accepted too (see [TRL names](#trl-names)).", ""]
        own = {f.name for f in dataclasses.fields(cls)} - shared
        out += ["Fields beyond the shared ones:" if own else "No fields beyond the shared ones.", ""]
        if own:
            out += _fields_table(cls, skip=shared)
    task_shared = {f.name for f in dataclasses.fields(TaskConfig)}
    out += ["## `sentinel train classify`, `ner`, `qa` (`sentinel.train.tasks`) {#train-tasks}", "",
            "Fields of `TaskConfig` beyond the shared ones:", ""]
    out += _fields_table(TaskConfig, skip=shared)
    for stage, cls in (("classify", ClassifyConfig), ("ner", NERConfig), ("qa", QAConfig)):
        own = {f.name for f in dataclasses.fields(cls)} - task_shared
        if own:
            out += [f"`{stage}` adds (`{cls.__name__}`):", ""] + _fields_table(cls, skip=task_shared)
    out += ["## `sentinel train ppo` (`PPOInputs` + `PPOConfig`) {#train-ppo}", "",
            "One YAML file holds both: what the run trains and against what (`PPOInputs`), and the PPO settings "
            "(`sentinel.train.ppo.PPOConfig`; `--device` is the common flag).", ""]
    out += _fields_table(PPOInputs) + _fields_table(PPOConfig)
    for title, anchor, cls in (
            ("`sentinel audit reward-model` (`AuditConfig`)", "audit-reward-model", AuditConfig),
            ("`sentinel audit sycophancy` (`SycophancyConfig`)", "audit-sycophancy", SycophancyConfig),
            ("`RLHFConsistencyChecker(**fields)`, `SentinelCallback` (`ConsistencyConfig`)", "consistency",
             ConsistencyConfig),
            ("`sentinel compare` (`CompareConfig`)", "compare", CompareConfig),
            ("`sentinel demo` (`DemoConfig`)", "demo", DemoConfig)):
        out += [f"## {title} {{#{anchor}}}", ""] + _fields_table(cls)
    out += ["## TRL names {#trl-names}", "",
            "A stage whose config names a TRL config class (`sft`, `reward`, `dpo`, `grpo`, `rloo`) reads a TRL "
            "recipe's YAML file as it is (`sentinel.train.trl_names`):", "",
            "| TRL name | becomes |", "|---|---|"]
    out += [f"| {_code(k)} | {_code(v)} |" for k, v in RENAMED.items()]
    out += [f"| {_code('use_peft: true')} | LoRA with TRL's default rank {TRL_LORA_RANK} unless "
            f"{_code('lora_r')} is given |",
            "| any other field of the TRL trainer config (`eval_strategy`, `optim`, ...) | passed to TRL as it is, "
            "through `trainer_args` |", ""]
    out += ["TRL names that cannot be honoured are an error naming the field:", "",
            "| TRL name | what to do instead |", "|---|---|"]
    out += [f"| {_code(k)} | {_cell(v)} |" for k, v in UNSUPPORTED.items()]
    return "\n".join(out + [""])


# ----------------------------------------------------------------------------------------------- registries
def _plugins(registry):
    """(name, severity, class, first docstring line) of every registered probe or detector."""
    for name in registry.names():
        cls = registry.get(name)
        doc = (cls.__doc__ or "").strip().splitlines()[0]
        yield name, getattr(cls.severity, "value", cls.severity), cls, doc


def probes_reference() -> str:
    from sentinel.audit.probes import PROBES

    lines = ["| probe | severity | what it does |", "|---|---|---|"]
    lines += [f"| {_code(name)} | {_cell(sev)} | {_cell(doc)} |" for name, sev, _, doc in _plugins(PROBES)]
    return "\n".join(lines + [""])


def detectors_reference() -> str:
    from sentinel.scan import DETECTORS

    lines = ["| detector | severity | threshold | what it flags |", "|---|---|---|---|"]
    lines += [f"| {_code(name)} | {_cell(sev)} | {_cell(cls.threshold)} | {_cell(doc)} |"
              for name, sev, cls, doc in _plugins(DETECTORS)]
    return "\n".join(lines + [""])


def report_schema() -> str:
    text = (ROOT / "sentinel" / "report" / "report.schema.json").read_text(encoding="utf-8")
    return "```json\n" + text.rstrip() + "\n```\n"


GENERATORS = {
    "<!-- generated:cli -->": cli_reference,
    "<!-- generated:config -->": config_reference,
    "<!-- generated:report-schema -->": report_schema,
    "<!-- generated:probes -->": probes_reference,
    "<!-- generated:detectors -->": detectors_reference,
}


def on_page_markdown(markdown: str, **kwargs) -> str:
    for marker, generate in GENERATORS.items():
        if marker in markdown:
            markdown = markdown.replace(marker, generate())
    return markdown
