"""Raw text for language-model training and perplexity: documents from a file, a folder, a table or a dataset.

    read_documents("notes/")                       # every *.txt / *.md under notes/ (recursive), one document each
    read_documents("corpus.jsonl", text_field="body")   # one document per row (JSONL, CSV, Parquet, save_to_disk)
    read_documents("book.txt", separator="\\n\\n\\n")     # one file cut into documents at a separator

A document keeps where it came from (`source`: the file, or file and line), so that a bad one is named, and the
train / held-out split (`split_documents`) is made by document: no held-out document leaks into training.
"""

from __future__ import annotations

import fnmatch
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import DataError
from .io import decode_utf8, file_suffix, read_file_bytes, read_rows

TEXT_SUFFIXES = (".txt", ".md", ".markdown", ".rst", ".text")
DEFAULT_INCLUDE = ("*.txt", "*.md")


@dataclass
class Document:
    source: str  # "notes/a.txt", "corpus.jsonl line 12", "book.txt part 3"
    text: str


@dataclass
class DocumentSet:
    documents: list[Document]
    source: str
    skipped: dict[str, str] = field(default_factory=dict)  # where -> why (with skip_invalid)

    def summary(self) -> dict[str, Any]:
        return {"source": self.source, "documents": len(self.documents),
                "characters": sum(len(d.text) for d in self.documents), "skipped": len(self.skipped),
                "skip_reasons": dict(list(self.skipped.items())[:20])}


def _matches(rel: str, patterns) -> bool:
    name = rel.rsplit("/", 1)[-1]
    return any(fnmatch.fnmatch(rel, p) or fnmatch.fnmatch(name, p) for p in patterns)


def _text_file(path: Path, separator: str | None, label: str) -> list[Document]:
    """A text file's documents; DataError naming the file when it is empty or not UTF-8."""
    raw = read_file_bytes(path)
    if not raw.strip():
        raise DataError("file is empty (or only whitespace); expected text", path=label)
    text = decode_utf8(raw, label)
    if separator is None:
        return [Document(label, text.strip())]
    parts = [p.strip() for p in text.split(separator)]
    return [Document(f"{label} part {i}", p) for i, p in enumerate(parts, start=1) if p]


def read_documents(source: Any, *, text_field: str = "text", include: list[str] | tuple[str, ...] = DEFAULT_INCLUDE,
                   exclude: list[str] | tuple[str, ...] = (), separator: str | None = None,
                   skip_invalid: bool = False) -> DocumentSet:
    """Documents from `source`: a text file (one document, or several cut at `separator`), a folder (every file
    matching `include` and not `exclude`, recursive, sorted by path), a JSONL/JSON/CSV/Parquet file, a
    `save_to_disk` folder or a Hub name (one document per row, from `text_field`), or a list of strings.

    A file that is empty or not UTF-8, or a row without a non-empty `text_field`, is a DataError naming it; with
    `skip_invalid` it is left out and listed in `DocumentSet.skipped` instead. No document at all is an error."""
    if isinstance(source, (list, tuple)) and all(isinstance(x, str) for x in source):
        docs = [Document(f"<list> item {i}", t.strip()) for i, t in enumerate(source, start=1) if t.strip()]
        return _checked(DocumentSet(docs, "<list>"))
    path = Path(source) if isinstance(source, (str, Path)) else None
    if path is not None and path.is_dir() and not _is_dataset_folder(path):
        return _checked(_read_folder(path, include, exclude, separator, skip_invalid))
    if path is not None and path.is_file() and file_suffix(path) in TEXT_SUFFIXES:
        return _checked(DocumentSet(_text_file(path, separator, str(path)), str(path)))
    rows = read_rows(source)
    out = DocumentSet([], rows.source)
    for row, loc in zip(rows.rows, rows.locations):
        where = f"{rows.source} {rows.unit} {loc}"
        value = row.get(text_field)
        if not isinstance(value, str) or not value.strip():
            reason = (f"no '{text_field}' field" if text_field not in row
                      else f"'{text_field}' is {'empty' if isinstance(value, str) else type(value).__name__}")
            if not skip_invalid:
                raise DataError(f"{reason}; expected a non-empty string (set text_field to the column that holds "
                                f"the text; this row has {', '.join(sorted(map(str, row))) or 'no fields'})",
                                path=rows.source, field=text_field, **{rows.unit: loc})
            out.skipped[where] = reason
            continue
        out.documents.append(Document(where, value.strip()))
    return _checked(out)


def _is_dataset_folder(path: Path) -> bool:
    return (path / "dataset_info.json").is_file() or (path / "dataset_dict.json").is_file()


def _read_folder(root: Path, include, exclude, separator, skip_invalid) -> DocumentSet:
    out = DocumentSet([], str(root))
    files = sorted(p for p in root.rglob("*") if p.is_file())
    picked = [p for p in files if _matches(p.relative_to(root).as_posix(), include)
              and not _matches(p.relative_to(root).as_posix(), exclude)]
    if not picked:
        raise DataError(f"no file matches {', '.join(include)}" + (f" (excluding {', '.join(exclude)})"
                        if exclude else "") + f" among {len(files)} files; set include to the files' patterns",
                        path=str(root))
    for p in picked:
        try:
            out.documents.extend(_text_file(p, separator, str(p)))
        except DataError as e:
            if not skip_invalid:
                raise
            out.skipped[str(p)] = e.reason
    return out


def _checked(docs: DocumentSet) -> DocumentSet:
    if not docs.documents:
        why = f" ({len(docs.skipped)} skipped as invalid)" if docs.skipped else ""
        raise DataError(f"no documents with text{why}", path=docs.source)
    return docs


def split_documents(docs: list[Document], fraction: float, seed: int) -> tuple[list[Document], list[Document]]:
    """(train, held-out) by whole documents: a seeded shuffle picks round(fraction x n) documents (at least one
    when fraction > 0) to hold out; the order within each part is the original order."""
    if not fraction:
        return list(docs), []
    n_held = max(1, round(len(docs) * fraction))
    if n_held >= len(docs):
        raise DataError(f"holding out {fraction:g} of {len(docs)} documents leaves none to train on; give more "
                        "documents or a smaller fraction")
    order = list(range(len(docs)))
    random.Random(seed).shuffle(order)
    held = set(order[:n_held])
    return [d for i, d in enumerate(docs) if i not in held], [d for i, d in enumerate(docs) if i in held]
