"""Readers for the three task formats, and deterministic train/eval splits.

- Classification: any table `sentinel.data.read_rows` reads (TSV, CSV, JSONL, ...) with a text and a label column.
- NER: CoNLL, one `token<TAB>tag` per line, BIO tags, a blank (or whitespace-only) line between sentences.
- QA: SQuAD v1.1 JSON (`data[].paragraphs[].qas[].answers[]`).

Nothing is dropped silently: a malformed line, an unknown label or an answer that is not in its context raises
`DataError` naming the file, the line (or JSON path) and the field.
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ...data import read_json, read_rows
from ...errors import DataError

_TAG = re.compile(r"^(O|[BI]-\S+)$")


def read_classification(
    path: str | Path, *, text_field: str = "sentence", label_field: str = "label", labels: Sequence[str] | None = None
) -> list[dict[str, Any]]:
    """Rows `{"text": str, "label": str, "line": int}` from a table.

    `labels`, when given, is the closed set of allowed labels; a row with any other label is a `DataError`.
    Labels are kept as strings ("0", "1", "positive") so that the file decides their names.
    """
    table = read_rows(str(path))
    if not table.rows:
        raise DataError("no rows; expected a header line and at least one example", path=table.source)
    allowed = {str(x) for x in labels} if labels else None
    out = []
    for i, row in enumerate(table.rows):
        for name in (text_field, label_field):
            if name not in row:
                raise table.error(i, f"missing column; the file has {sorted(row)}", field=name)
        text, label = row[text_field], row[label_field]
        if not isinstance(text, str) or not text.strip():
            raise table.error(i, "empty text; expected a non-empty string", field=text_field)
        label = "" if label is None else str(label).strip()
        if not label:
            raise table.error(i, "empty label", field=label_field)
        if allowed is not None and label not in allowed:
            raise table.error(i, f"unknown label {label!r}; expected one of {sorted(allowed)}", field=label_field)
        out.append({"text": text.strip(), "label": label, "line": table.locations[i]})
    return out


def read_conll(path: str | Path) -> list[dict[str, Any]]:
    """Sentences `{"tokens": [str], "tags": [str], "line": first_line}` from a CoNLL `token<TAB>tag` file.

    A line with a tab splits on the tab (tokens may then hold spaces); otherwise on whitespace. Either way a
    line must have exactly two fields, and the tag must be `O`, `B-TYPE` or `I-TYPE`. `-DOCSTART-` lines are skipped.
    """
    p = Path(path)
    if not p.is_file():
        raise DataError("file not found; expected a CoNLL file (token<TAB>tag per line)", path=p)
    sentences: list[dict[str, Any]] = []
    tokens: list[str] = []
    tags: list[str] = []
    start = 0
    with p.open(encoding="utf-8-sig") as f:
        for lineno, raw in enumerate(f, start=1):
            line = raw.rstrip("\r\n")
            if not line.strip():
                if tokens:
                    sentences.append({"tokens": tokens, "tags": tags, "line": start})
                tokens, tags = [], []
                continue
            if line.startswith("-DOCSTART-"):
                continue
            parts = line.split("\t") if "\t" in line else line.split()
            if len(parts) != 2 or not parts[0].strip():
                raise DataError(
                    f"expected 'token<TAB>tag' (2 fields), got {len(parts)} field(s): {line[:60]!r}",
                    path=p, line=lineno, field="token" if len(parts) == 2 else None,
                )
            token, tag = parts[0].strip(), parts[1].strip()
            if not _TAG.match(tag):
                raise DataError(f"bad BIO tag {tag!r}; expected O, B-TYPE or I-TYPE", path=p, line=lineno, field="tag")
            if not tokens:
                start = lineno
            tokens.append(token)
            tags.append(tag)
    if tokens:
        sentences.append({"tokens": tokens, "tags": tags, "line": start})
    if not sentences:
        raise DataError("no sentences; expected token<TAB>tag lines", path=p)
    return sentences


def bio_label_list(sentences: Sequence[dict[str, Any]]) -> list[str]:
    """All tags a model must predict: "O" first, then B-/I- for every entity type seen, sorted by type."""
    types = sorted({t[2:] for s in sentences for t in s["tags"] if t != "O"})
    return ["O"] + [f"{bio}-{t}" for t in types for bio in ("B", "I")]


def read_squad(path: str | Path) -> list[dict[str, Any]]:
    """Questions `{"id", "title", "context", "question", "answers": {"text": [..], "answer_start": [..]}}`.

    Every answer must sit at `answer_start` in its context, character for character (SQuAD v1.1's promise);
    where it does not, the `DataError` names the JSON path of the answer.
    """
    p = Path(path)
    if not p.is_file():
        raise DataError("file not found; expected SQuAD v1.1 JSON", path=p)
    doc = read_json(p)
    if not isinstance(doc, dict) or not isinstance(doc.get("data"), list):
        raise DataError("expected a JSON object with a 'data' list (SQuAD v1.1)", path=p, field="data")
    out: list[dict[str, Any]] = []
    for a, article in enumerate(doc["data"]):
        title = str(article.get("title", f"article-{a}"))
        for g, para in enumerate(_need(article, "paragraphs", list, p, f"data[{a}]")):
            where = f"data[{a}].paragraphs[{g}]"
            context = _need(para, "context", str, p, where)
            for q, qa in enumerate(_need(para, "qas", list, p, where)):
                qwhere = f"{where}.qas[{q}]"
                question = _need(qa, "question", str, p, qwhere)
                answers = _need(qa, "answers", list, p, qwhere)
                if not answers:
                    raise DataError("no answers; SQuAD v1.1 needs at least one per question", path=p,
                                    field=f"{qwhere}.answers")
                texts, starts = [], []
                for k, ans in enumerate(answers):
                    awhere = f"{qwhere}.answers[{k}]"
                    text = _need(ans, "text", str, p, awhere)
                    s = _need(ans, "answer_start", int, p, awhere)
                    if context[s : s + len(text)] != text:
                        raise DataError(
                            f"answer {text!r} is not at character {s} of the context "
                            f"(found {context[s : s + len(text)]!r})",
                            path=p, field=f"{awhere}.answer_start",
                        )
                    texts.append(text)
                    starts.append(s)
                out.append({"id": str(qa.get("id", f"{a}-{g}-{q}")), "title": title, "context": context,
                            "question": question, "answers": {"text": texts, "answer_start": starts}})
    if not out:
        raise DataError("no questions found", path=p, field="data")
    return out


def _need(obj: Any, key: str, tp: type, path: Path, where: str) -> Any:
    if not isinstance(obj, dict) or key not in obj:
        raise DataError(f"missing '{key}'", path=path, field=f"{where}.{key}")
    value = obj[key]
    if not isinstance(value, tp) or (tp is int and isinstance(value, bool)):
        raise DataError(f"expected {tp.__name__}, got {type(value).__name__}", path=path, field=f"{where}.{key}")
    return value


def split_by_group(rows: Sequence[dict[str, Any]], key: str, eval_fraction: float, seed: int):
    """(train, eval) with whole groups (e.g. articles, `key="title"`) on one side, so no context leaks across."""
    groups = sorted({r[key] for r in rows})
    random.Random(seed).shuffle(groups)
    held = set(groups[: max(1, math.ceil(eval_fraction * len(groups)))])
    return [r for r in rows if r[key] not in held], [r for r in rows if r[key] in held]
