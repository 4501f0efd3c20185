"""Re-cut the real-data subsets in tests/data/ from the full files (../shared/data or a folder given).

    python tests/data/cut.py [--source ../shared/data]

Every subset is the first N records of its source file, in the original order and bytes per record (gzip files are
re-compressed with mtime 0, so the same source gives the same bytes). Files written by hand (the Alpaca- and
SST-2-shaped ones, whose sources are not licensed for redistribution) are not touched. SOURCES.md lists each file.
"""

from __future__ import annotations

import argparse
import gzip
import json
from pathlib import Path

HERE = Path(__file__).resolve().parent

# (source path under the data folder, records kept)
JSONL = {
    "preference/harmless-base-test.jsonl.gz": 2312,  # all of it: the 3% poisoning test needs the full size
    "preference/helpful-base-test.jsonl.gz": 800,
    "preference/helpful-online-test.jsonl.gz": 60,
    "preference/helpful-rejection-sampled-test.jsonl.gz": 60,
    "sycophancy/bct-truthfulqa_suggested_answer.jsonl": 30,
    "sycophancy/bct-truthfulqa_are_you_sure.jsonl": 30,
    "instruction/oasst-en_100_message.jsonl": 15,
}
CSV_ROWS = {"truthfulness/TruthfulQA.csv": 60}  # rows after the header
CONLL_SENTENCES = {"tasks/wnut17-train.conll": 600, "tasks/wnut17-dev.conll": 200}
SQUAD_ARTICLES = {"tasks/xquad.en.json": 12}
# MedQuAD NIDDK: the first N documents (by file name) as JSONL (id, focus, url, text) and their question-answer pairs
# (prompt, completion), parsed by benchmarks/_medquad.py
MEDQUAD = ("domain/medquad-niddk.tar.gz", 12, "domain/medquad-niddk-12.jsonl.gz", "domain/medquad-niddk-12-qa.jsonl.gz")


def _lines(path: Path) -> list[str]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8", newline="") as f:
        return f.readlines()


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = text.encode("utf-8")
    if path.suffix == ".gz":
        data = gzip.compress(data, compresslevel=9, mtime=0)
    path.write_bytes(data)


def _first_sentences(text: str, n: int) -> str:
    blocks, current = [], []
    for line in text.splitlines(keepends=True):
        current.append(line)
        if not line.strip():
            if len(current) > 1:
                blocks.append("".join(current))
            current = []
        if len(blocks) == n:
            break
    return "".join(blocks)


def cut(source: Path, dest: Path = HERE) -> list[Path]:
    written = []
    for rel, n in JSONL.items():
        _write(dest / rel, "".join(_lines(source / rel)[:n]))
        written.append(dest / rel)
    for rel, n in CSV_ROWS.items():
        # TruthfulQA rows have no embedded newlines, so the first n + 1 lines are the header and n rows.
        _write(dest / rel, "".join(_lines(source / rel)[: n + 1]))
        written.append(dest / rel)
    for rel, n in CONLL_SENTENCES.items():
        _write(dest / rel, _first_sentences((source / rel).read_text(encoding="utf-8"), n))
        written.append(dest / rel)
    for rel, n in SQUAD_ARTICLES.items():
        doc = json.loads((source / rel).read_text(encoding="utf-8"))
        doc["data"] = doc["data"][:n]
        _write(dest / rel, json.dumps(doc, ensure_ascii=False) + "\n")
        written.append(dest / rel)
    archive, n, docs_rel, qa_rel = MEDQUAD
    import sys

    sys.path.insert(0, str(HERE.parents[1] / "benchmarks"))
    from _medquad import read_archive

    docs = read_archive(source / archive)[:n]
    _write(dest / docs_rel, "".join(json.dumps({k: d[k] for k in ("id", "focus", "url", "text")},
                                               ensure_ascii=False) + "\n" for d in docs))
    _write(dest / qa_rel, "".join(json.dumps({"id": d["id"], **qa}, ensure_ascii=False) + "\n"
                                  for d in docs for qa in d["qa"]))
    written += [dest / docs_rel, dest / qa_rel]
    return written


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--source", type=Path, default=HERE.parents[2] / "shared" / "data",
                    help="folder holding the full files (the layout of ../shared/data)")
    args = ap.parse_args()
    for path in cut(args.source):
        print(f"{path.relative_to(HERE)}  {path.stat().st_size:,} bytes")


if __name__ == "__main__":
    main()
