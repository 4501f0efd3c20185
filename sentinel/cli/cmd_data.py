"""`sentinel data validate|convert`."""

from __future__ import annotations

from ..config import Switch
from ..utils import counted
from .common import add_format, print_json, print_table

GROUP = "data"


def register(sub) -> None:
    from ..data.formats import INSTRUCTION_TARGETS, PREFERENCE_TARGETS

    p = sub.add_parser("validate", help="check a data file and print a summary (rows, format, lengths, problems)",
                       description="Reads every row of FILE, recognises its format (instruction or preference data), "
                       "and prints the rows read, the examples they give, word-count statistics and every invalid "
                       "row with its line and field. Exit 0 when every row is valid, 1 when some are not, 2 when "
                       "the file cannot be read.")
    p.add_argument("file", help="JSON, JSONL(.gz), CSV, TSV, Parquet file or a save_to_disk folder")
    p.add_argument("--split", help="split to read from a dataset folder with several")
    add_format(p, json_help="the summary as JSON")
    p.add_argument("--max-problems", type=int, default=20, help="problems to list (all are counted)")
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("convert", help="convert instruction or preference data to another format",
                       description="Converts INPUT (any format `data validate` recognises) to the format --to names "
                       "and writes OUTPUT atomically, its file type from its suffix. A row that cannot be converted "
                       "stops the run, or with --skip-invalid is left out, counted and (with --rejects) written out.")
    p.add_argument("input", help="data file (JSON/JSONL(.gz)/CSV/TSV/Parquet), save_to_disk folder or hub name")
    p.add_argument("output", help="output file; .jsonl, .jsonl.gz, .json, .csv, .tsv or .parquet")
    p.add_argument("--to", required=True, choices=sorted(set(INSTRUCTION_TARGETS + PREFERENCE_TARGETS)),
                   help="target format")
    p.add_argument("--skip-invalid", action=Switch,
                   help="leave out rows that cannot be converted (counted and reported) instead of stopping")
    p.add_argument("--rejects", help="with --skip-invalid: write the rows left out, with reasons, to this file")
    p.add_argument("--split", help="split to read from a dataset folder with several")
    p.set_defaults(func=cmd_convert)


def cmd_validate(args) -> int:
    from ..data import validate

    summary = validate(args.file, split=args.split)
    problems = summary["problems"]
    if args.format == "json":
        print_json(summary)
    else:
        print(f"{summary['source']}: {summary['kind']} data, format '{summary['format']}', "
              f"{counted(summary['rows_read'], 'row')} -> {counted(summary['examples'], 'example')}, "
              f"{len(problems)} invalid")
        rows = [(k, *(v.get(s, "") for s in ("mean", "median", "min", "max"))) for k, v in summary["lengths"].items()]
        print_table("lengths (words)", rows, ("field", "mean", "median", "min", "max"))
        for p in problems[: args.max_problems]:
            where = f"line {p['line']}" if "line" in p else f"row {p['row']}"
            print(f"  {where}, field '{p['field']}': {p['reason']}")
        if len(problems) > args.max_problems:
            print(f"  ... and {len(problems) - args.max_problems} more")
    return 1 if problems else 0


def cmd_convert(args) -> int:
    from ..data import convert

    s = convert(args.input, args.to, args.output, skip_invalid=args.skip_invalid, split=args.split,
                rejects=args.rejects)
    print(f"wrote {counted(s['written'], s['kind'] + ' example')} ({s['format']} -> {s['to']}) to {s['out']}; "
          f"{counted(s['rows_skipped'], 'row')} skipped"
          + (f" (listed in {args.rejects})" if args.rejects and s["rows_skipped"] else ""))
    for reason, n in s.get("skip_reasons", {}).items():
        print(f"  skipped {n}: {reason}")
    return 0
