"""`sentinel scan`: flag reward-hacking and attack signatures in one prompt/response pair or a whole data file."""

from __future__ import annotations

import argparse

from ..config import Switch
from ..errors import ConfigError
from ..report.sarif import to_sarif
from ..scan.dataset import ENGINES, PAIR_SIDES
from ..utils import counted
from .common import add_fail_on, print_json, print_jsonl, print_table

GROUP = None


def register(sub) -> None:
    p = sub.add_parser(
        "scan", help="flag reward-hacking and attack signatures in a prompt/response pair or a data file",
        description="Scan one pair (--prompt/--response) or every text of FILE with the registered detectors. "
        "Exit 0 when nothing is at or above --fail-on, 1 when something is, 2 for a usage or input error.",
    )
    p.add_argument("file", nargs="?", help="data file (JSON, JSONL(.gz), CSV, TSV, Parquet) or save_to_disk folder")
    p.add_argument("--prompt", help="the prompt (alone: scanned as the text under test)")
    p.add_argument("--response", help="the response to scan, with --prompt as its context")
    p.add_argument("--detectors", nargs="+", metavar="NAME", help="detectors to run (default: all; see --list)")
    p.add_argument("--threshold", nargs="+", action="extend", default=[], metavar="NAME=VALUE",
                   help="override a detector's threshold, e.g. --threshold verbosity=0.7 repetition=0.6")
    p.add_argument("--kept", metavar="FILE", help="FILE mode: write the rows no detector flagged here (format from "
                   "the suffix)")
    p.add_argument("--flagged", help="FILE mode: write the flagged rows here, each with a 'sentinel_scan' field")
    p.add_argument("--out", metavar="DIR", help="folder for report.json, report.html, report.md and report.sarif")
    p.add_argument("--split", help="FILE mode: split to read from a dataset folder with several")
    p.add_argument("--decide-by", nargs="+", choices=PAIR_SIDES, default=["chosen"], metavar="SIDE",
                   help="FILE mode: the replies of a preference pair whose hits flag the row, of chosen and rejected "
                        "(default: chosen: a flaw in the rejected reply is what the pair teaches a reward model to "
                        "avoid, so such rows are kept and the hit is reported at info severity)")
    p.add_argument("--strict", action=Switch,
                   help="FILE mode: stop at the first row with no text to scan, or JSONL line that is not one JSON "
                        "object, instead of counting and naming it in the invalid-rows finding")
    p.add_argument("--list", action="store_true", help="list the detectors with their thresholds and exit")
    p.add_argument("--matcher", choices=("compiled", "reference"), default=None,
                   help="how detectors match text: 'compiled' (one RE2 pass prefilters every pattern; the default "
                        "where google-re2 is installed) or 'reference' (Python re alone); findings are identical")
    p.add_argument("--engine", choices=ENGINES, default="local",
                   help="FILE mode: where the scan runs: 'local' (this process, the default) or 'ray' (Ray workers on "
                        "this machine or a cluster; needs the scale extra); results are identical")
    p.add_argument("--workers", type=int, metavar="N",
                   help="--engine ray: the number of Ray workers, one CPU each (default: one per CPU of the cluster)")
    p.add_argument("--ray-address", metavar="ADDR",
                   help="--engine ray: the Ray cluster to run on, e.g. auto or HEAD_IP:6379 (default: the "
                        "RAY_ADDRESS variable, else a Ray running on this machine, else a new one started here)")
    add_fail_on(p, default="low", why="a scan flags concrete attacks and leaks in the text, each worth a look",
                formats=("text", "json", "jsonl", "sarif"))
    p.set_defaults(func=cmd_scan)


def parse_thresholds(items: list[str]) -> dict[str, float]:
    """`["verbosity=0.7", ...]` -> `{"verbosity": 0.7}`; ConfigError naming the bad item."""
    out = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise ConfigError(f"expected NAME=VALUE (e.g. verbosity=0.7), got {item!r}", field="threshold")
        try:
            out[name.strip()] = float(value)
        except ValueError:
            raise ConfigError(f"threshold for '{name}' must be a number in [0, 1], got {value!r}",
                              field=f"threshold.{name}") from None
    return out


def cmd_scan(args: argparse.Namespace) -> int:
    from ..report import Severity
    from ..scan import DETECTORS

    if args.list:
        rows = [(n, f"{DETECTORS.get(n).threshold:.2f}", Severity.parse(DETECTORS.get(n).severity).value,
                 DETECTORS.get(n).description()) for n in DETECTORS]
        print_table("scan detectors", rows, ("id", "threshold", "severity", "description"))
        return 0
    thresholds = parse_thresholds(args.threshold)
    pair = args.prompt is not None or args.response is not None
    if args.file and pair:
        raise ConfigError("give either FILE or --prompt/--response, not both", field="file")
    if not args.file and not pair:
        raise ConfigError("nothing to scan: give FILE, or --prompt P [--response R]", field="file")
    if pair and (args.kept or args.flagged or args.split or args.decide_by != ["chosen"] or args.engine != "local"):
        raise ConfigError("--kept, --flagged, --split, --decide-by and --engine apply to FILE mode only", field="kept")
    if args.engine != "ray" and (args.workers is not None or args.ray_address):
        raise ConfigError("--workers and --ray-address apply to --engine ray only", field="workers")
    if pair:
        return _scan_pair(args, thresholds)
    return _scan_file(args, thresholds)


def _scan_pair(args, thresholds) -> int:
    from ..scan import scan

    if args.prompt is None:
        result = scan("", args.response, args.detectors, thresholds, args.matcher)
    else:
        result = scan(args.prompt, args.response, args.detectors, thresholds, args.matcher)
    report = result.to_report()
    if args.out:
        report.save(args.out)
    if args.format == "sarif":
        print_json(to_sarif(report.to_dict()))
    elif args.format == "json":
        print_json(report.to_dict())
    elif args.format == "jsonl":
        print_jsonl({"field": "response", "status": "flagged" if result.flagged else "kept",
                     "findings": [ev for f in report.findings for ev in f.evidence]})
    else:
        rows = [(name, f"{s:.2f}", f"{result.thresholds[name]:.2f}", "FLAGGED" if any(f.id == name for f in
                 result.findings) else "") for name, s in result.scores.items()]
        print_table("scan scores", rows, ("detector", "score", "threshold", ""))
        for f in result.findings:
            print(f"{f.severity.value:>8}  {f.id}: {f.description}")
            for e in f.evidence:
                print(f"          evidence ({f.data.get('field', '?')}): {e!r}")
        if not result.findings:
            print("clean: no detector at or above its threshold")
    return report.exit_code(args.fail_on)


def _scan_file(args, thresholds) -> int:
    from ..scan.dataset import scan_dataset

    ds = scan_dataset(args.file, args.detectors, thresholds, split=args.split, out=args.kept, flagged_out=args.flagged,
                      strict=args.strict, decide_by=args.decide_by, matcher=args.matcher, keep_rows=False,
                      on_row=print_jsonl if args.format == "jsonl" else None, engine=args.engine,
                      workers=args.workers, ray_address=args.ray_address)
    if args.out:
        ds.report.save(args.out)
    if args.format == "sarif":
        print_json(to_sarif(ds.report.to_dict()))
    elif args.format == "json":
        print_json(ds.report.to_dict())
    elif args.format == "jsonl":
        pass  # every row's result is printed as it is scanned
    else:
        rows = [(name, n, f"{n / ds.rows:.1%}", f"{ds.thresholds[name]:.2f}") for name, n in ds.counts.items()]
        print_table(f"{ds.source}: {counted(ds.rows, 'row')}, {counted(ds.texts, 'text')}; "
                    f"{ds.rows_flagged} flagged", rows,
                    ("detector", "rows flagged", "share", "threshold"))
        if ds.unparsed_rows:
            print(f"{counted(ds.unparsed_rows, 'row')} fit no known format: each of their string fields was scanned "
                  "alone")
        side = {k: n for k, n in ds.side_counts.items() if n}
        if side:
            print(f"kept with hits on the reply that does not decide (--decide-by {' '.join(args.decide_by)}), "
                  "reported at info: " + ", ".join(f"{k} {n}" for k, n in side.items()))
        for f in ds.report.findings:
            if f.id in ("invalid-rows", "inconclusive"):
                print(f"{f.id} ({f.severity.value}): {f.description}")
        for path, what, n in ((args.kept, "kept", ds.rows_kept), (args.flagged, "flagged", ds.rows_flagged)):
            if path:
                print(f"wrote {counted(n, what + ' row')} to {path}")
    return ds.report.exit_code(args.fail_on)
