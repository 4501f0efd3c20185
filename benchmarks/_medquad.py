"""MedQuAD's NIDDK subset (CC BY 4.0; Ben Abacha & Demner-Fushman, BMC Bioinformatics 2019) as documents and
question-answer pairs: one document per XML file (its focus, then each answer as a paragraph), XML entities
unescaped by the parser, whitespace inside a paragraph collapsed. Used by benchmarks/domain_adaptation.py and by
tests/data/cut.py to cut the test subset."""

from __future__ import annotations

import re
import tarfile
import xml.etree.ElementTree as ET
from pathlib import Path


def _clean(text: str) -> str:
    paras = [re.sub(r"\s+", " ", p).strip() for p in re.split(r"\n\s*\n", text or "")]
    return "\n\n".join(p for p in paras if p)


def parse(xml: bytes, name: str) -> dict:
    root = ET.fromstring(xml)
    focus = (root.findtext("Focus") or "").strip()
    pairs = []
    for qa in root.iter("QAPair"):
        q, a = _clean(qa.findtext("Question") or ""), _clean(qa.findtext("Answer") or "")
        if q and a:
            pairs.append({"prompt": q, "completion": a})
    text = "\n\n".join([focus] + [p["completion"] for p in pairs])
    return {"id": root.get("id") or name, "focus": focus, "url": root.get("url"), "text": text, "qa": pairs}


def read_archive(path: str | Path) -> list[dict]:
    """Every document of the archive, sorted by file name."""
    out = []
    with tarfile.open(path) as tar:
        for m in sorted((m for m in tar.getmembers() if m.name.endswith(".xml")), key=lambda m: m.name):
            out.append(parse(tar.extractfile(m).read(), Path(m.name).stem))
    return out
