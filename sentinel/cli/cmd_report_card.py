"""`sentinel report card`: put a saved report into a model card (README.md) as its own section."""

from __future__ import annotations

GROUP = "report"


def register(sub) -> None:
    p = sub.add_parser("card", help="add a report to a model card as a section (replaced when attached again)",
                       description="Adds the report (an audit, a scan, a training run's guard report) to a model "
                                   "card, the README.md the Hugging Face Hub shows, as a section between two markers: "
                                   "attaching a report of the same kind again replaces it; the rest of the card is "
                                   "kept. Upload the card with the model (push_to_hub) or with `hf upload`.")
    p.add_argument("report", help="report folder (with report.json) or report.json file")
    p.add_argument("--card", required=True,
                   help="model card to update: a README.md file, or a model folder (its README.md; created if "
                        "none; a path ending in / or without a file suffix is a folder, created if missing)")
    p.add_argument("--link", help="where readers find the full report (a URL or a path), shown under the section")
    p.set_defaults(func=cmd_card)


def cmd_card(args) -> int:
    from pathlib import Path

    from ..data import read_json
    from ..errors import DataError
    from ..report import Report
    from ..report.model_card import attach_file
    from ..utils import not_found_message

    source = Path(args.report)
    source = source / "report.json" if source.is_dir() else source
    if not source.exists():
        raise DataError(not_found_message(source))
    report = read_json(source)  # as written: its own version and date, not re-stamped
    Report.from_dict(report)  # a file that is not a sentinel report is an error naming what it lacks
    card = Path(args.card)
    # a folder, or a path written as one (`newmodel/`, created), holds README.md; anything else is the card file
    folder = card.is_dir() or str(args.card).endswith(("/", "\\")) or (not card.exists() and not card.suffix)
    if folder:
        card.mkdir(parents=True, exist_ok=True)
        card = card / "README.md"
    attach_file(card, report, args.link)
    n = len(report["findings"])
    print(f"{report['kind']} report ({n} finding{'' if n == 1 else 's'}) attached to {card}")
    return 0
