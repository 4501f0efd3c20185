"""The words of the command line: one flag for each concept, in every command, and the synonyms it replaced.

`tests/cli/test_cli_vocabulary.py` walks every command's parser against this table: no banned synonym is an option
anywhere, and an option whose help describes a concept (`describes`, matched at the start of its help) uses the
concept's flag. A new command reuses these words; a new concept gets its row here. Flags generated from a config
dataclass field take the field's name, so a rename here is a rename of the field, its YAML key and its docs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Term:
    """A concept, the one flag that names it, the synonyms no command may use, and (optionally) a pattern that
    recognises an option about this concept from the start of its help."""

    concept: str
    flag: str
    banned: tuple[str, ...] = ()
    describes: str | None = None

    def matches(self, help_text: str | None) -> bool:
        return bool(self.describes and help_text and re.match(self.describes, help_text, re.IGNORECASE))


VOCABULARY: tuple[Term, ...] = (
    Term("the model a command trains, samples from or audits (a causal LM: the policy)", "--model",
         ("--policy", "--policy-model", "--model-path"), r"folder of (a|the) (causal LM|policy)\b"),
    Term("the reward model under audit or attack, compared with, trained against or checking data",
         "--reward-model", ("--rm", "--reward", "--reward-fn", "--reward-function"), r"reward model\b"),
    Term("the reference model (of a DPO policy, of the KL term, of a comparison's KL column)", "--ref-model",
         ("--reference", "--ref", "--reference-model"), r"(a )?reference (causal LM|model)\b"),
    Term("the folder a report (report.json, .html, .md, .sarif) is written to", "--out",
         ("--report", "--report-dir", "--report-folder", "--out-dir"), r"folder for report\.json"),
    Term("how many optimisation steps to run", "--max-steps", ("--steps", "--n-steps", "--num-steps", "--total-steps")),
    Term("how many texts a phrase attack may score", "--attack-budget", ("--budget",)),
    Term("at most this many input rows (cases, prompts, questions, examples)", "--max-rows",
         ("--limit", "--n", "--max-cases", "--max-prompts", "--max-examples", "--num-samples")),
    Term("what to print: text for people, json (and jsonl, sarif) for machines", "--format",
         ("--json", "--no-json", "--jsonl", "--sarif", "--output-format")),
    Term("only warnings and errors, no progress bars (every command)", "-q", ("--silent",)),
    Term("a list of names (probes, detectors): space- or comma-separated", "--probes", ("--probe",)),
    Term("list what is registered and exit", "--list", ("--no-list",)),
)


def term(flag: str) -> Term:
    """The term whose flag is `flag`."""
    return next(t for t in VOCABULARY if t.flag == flag)


def banned_flags() -> dict[str, Term]:
    """Every banned synonym, mapped to the term that replaces it."""
    return {b: t for t in VOCABULARY for b in t.banned}


__all__ = ["VOCABULARY", "Term", "banned_flags", "term"]
