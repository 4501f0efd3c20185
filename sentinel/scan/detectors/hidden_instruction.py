"""hidden_instruction: text addressed to a grader or model rather than the user, or hidden from the reader."""

from __future__ import annotations

import re

from ...report import Severity
from ..matching import PATTERNS, active
from .base import Detector, Span, lowered, make_span, match_span, needs, register
from .injection_patterns import GRAMMARS, LEET, LETTER_SPACED, QUOTES, WORD, Family, Grammar, Rule, despace, unleet

_GRADER = r"(?:grader|evaluator|reviewer|judge|rater|annotator|reward model|scorer|marker|ai judge|llm judge)"
Planned = tuple[Grammar, Family, Rule]
# What is looked for in a prompt, and in a response, in order of family and rule.
_IN_PROMPT: tuple[Planned, ...] = tuple((g, f, r) for g in GRAMMARS.values() for f in g.families for r in f.rules
                                        if r.where in ("prompt", "both"))
_IN_RESPONSE: tuple[Planned, ...] = tuple((g, f, r) for g in GRAMMARS.values() for f in g.families for r in f.rules
                                          if r.where in ("response", "both"))


def _index(plan: tuple[Planned, ...]) -> tuple[dict[str, list[int]], frozenset[int]]:
    """Word -> the rules of `plan` whose first gate group holds it; and the rules gated by substrings instead."""
    by_word: dict[str, list[int]] = {}
    for i, (_, _, rule) in enumerate(plan):
        for w in rule.pattern.first_words or ():
            by_word.setdefault(w, []).append(i)
    return by_word, frozenset(i for i, (_, _, r) in enumerate(plan) if r.pattern.first_words is None)


_BY_WORD, _ALWAYS = _index(_IN_RESPONSE)
_FIRST_WORDS = frozenset(_BY_WORD)


def _by_pattern(plan: tuple[Planned, ...], words: bool) -> dict[int, list[int]]:
    """Compiled-matcher entry -> the positions in `plan` of the rules using it. A response is gated by its words
    (`words=True`, as `_candidates` does), a prompt by substrings."""
    out: dict[int, list[int]] = {}
    for i, (_, _, rule) in enumerate(plan):
        out.setdefault(rule.pattern.index_words if words else rule.pattern.index_substrings, []).append(i)
    return out


_PROMPT_BY_SUBSTRING = _by_pattern(_IN_PROMPT, words=False)
_RESPONSE_BY_SUBSTRING = _by_pattern(_IN_RESPONSE, words=False)  # a response scanned without its words
_RESPONSE_BY_WORD = _by_pattern(_IN_RESPONSE, words=True)


def _compiled_plan(plan: tuple[Planned, ...], by_pattern: dict[int, list[int]], compiled, low: str,
                   prompt: bool = False) -> tuple[Planned, ...]:
    """The rules of `plan` that the compiled matcher says may match in `low` (pattern, then gates), in plan order.
    `prompt`: `low` is a prompt, read by the prompt set (`plan` is then `_IN_PROMPT`, all of it in that set)."""
    found = compiled.candidates(low, prompt)
    if found is None:
        return plan
    picked = [i for p in found if p in by_pattern and compiled.may_match(p, low, prompt) for i in by_pattern[p]]
    picked.sort()
    return tuple(plan[i] for i in picked)


def _candidates(tokens: frozenset[str]) -> tuple[Planned, ...]:
    """The response rules worth trying on a text with these words, in plan order: a text's words pick few rules."""
    picked = set(_ALWAYS)
    for w in tokens & _FIRST_WORDS:
        picked.update(_BY_WORD[w])
    return tuple(_IN_RESPONSE[i] for i in sorted(picked))


# Addressed to a model inside a code comment: "# note to the AI reviewer: ...", "// grader: ...".
_CODE_COMMENT = re.compile(
    r"(?:#|//|/\*|--|;)[ \t]{0,5}(?:note to |attention |dear |hey |for |to )?(?:the |all |any )?"
    r"(?:ai |llm |automated )?(?:ai|llm|assistant|language model|chatgpt|gpt|claude|" + _GRADER
    + r")s?\b[ \t]{0,3}[:,]"
)
# Inside an HTML comment, an addressee (a model, a grader) or an order marks an instruction to a model rather than
# a note for a developer; words such as "model", "score" or "reply" are left out, as page markup uses them.
_IN_COMMENT = re.compile(
    r"\b(?:ignore|disregard|instructions?|" + _GRADER + r"|assistant|ai|llm|language model|chatbot|you must|"
    r"you should|do not tell|don't tell|do not mention)\b"
)
# Invisible or reordering Unicode: one character class finds any of them; the kinds are told apart after.
_INVISIBLE = re.compile("[\u200b-\u200d\u2060\u180e\ufeff\u202a-\u202e\u2066-\u2069\U000e0000-\U000e007f]")
_TAGS = re.compile("[\U000e0000-\U000e007f]+")
_BIDI = re.compile("[\u202a-\u202e\u2066-\u2069]")
_ZERO_WIDTH = re.compile("[\u200b\u200c\u200d\u2060\u180e\ufeff]")
_EMOJI_MIN = 0x2190  # a zero-width joiner between two symbols at/after this code point is an emoji sequence
MAX_COMMENT_CHARS = 5000
# Compiled-matcher indices of the patterns tried on every response. The lookarounds of LETTER_SPACED and LEET hold
# their selectivity, so their prefilters spell them out: a non-letter, then five spaced letters (every run starts
# so); a digit between two letters.
_SPACED_LETTER = r"[a-z](?: {1,3}|[.\-_*] ?)"
_LETTER_SPACED_INDEX = PATTERNS.add(LETTER_SPACED, prefilter=r"(?:^|[^a-z])" + _SPACED_LETTER * 4 + "[a-z]")
_LEET_INDEX = PATTERNS.add(LEET, prefilter=r"[a-z][013457@$][a-z]")
_CODE_COMMENT_INDEX = PATTERNS.add(_CODE_COMMENT)
_HTML_COMMENT = re.compile("<!--")


def _html_comments(text: str):
    """(start, end) of each `<!-- ... -->` comment, in one left-to-right pass (no regex backtracking)."""
    pos = 0
    while True:
        start = text.find("<!--", pos)
        if start < 0:
            return
        end = text.find("-->", start + 4)
        if end < 0:
            return
        yield start, end + 3
        pos = end + 3


def _zero_width(text: str) -> re.Match | None:
    """The first zero-width character that is not part of an emoji sequence or a leading byte-order mark."""
    for m in _ZERO_WIDTH.finditer(text):
        i, ch = m.start(), m.group()
        if ch == "\ufeff" and i == 0:
            continue
        if ch == "\u200d" and 0 < i < len(text) - 1 and ord(text[i - 1]) >= _EMOJI_MIN \
                and ord(text[i + 1]) >= _EMOJI_MIN:
            continue
        return m
    return None


def _around(field: str, text: str, m: re.Match, family: str) -> Span:
    return make_span(field, text, max(0, m.start() - 20), min(len(text), m.end() + 40), family)


def _invisible(field: str, text: str) -> tuple[float, Span | None]:
    m = _TAGS.search(text)
    if m:
        # Tag characters mirror ASCII (U+E0041 is "A"): show the message they hide.
        hidden = "".join(chr(ord(c) - 0xE0000) for c in m.group() if 0xE0020 <= ord(c) <= 0xE007E)
        return 1.0, Span(field, m.start(), m.end(), f"[tag characters spelling {hidden[:150]!r}]", "tag_characters")
    m = _BIDI.search(text)
    if m:
        return 0.8, _around(field, text, m, "bidi")
    m = _zero_width(text)
    if m:
        return 0.7, _around(field, text, m, "zero_width")
    return 0.0, None


def _quoted(low: str, start: int) -> bool:
    """Whether the match at `start` lies inside a quotation or inline code on its line.

    A quotation mark or backtick right before it, or an opening mark left open earlier on the line: an odd count
    of straight double quotes or backticks, or a typographic opening quote after the last closing one.
    """
    i = start - 1
    while i >= 0 and start - i <= 3 and low[i] == " ":
        i -= 1
    if i >= 0 and low[i] in QUOTES:
        return True
    line = low[max(low.rfind("\n", 0, start) + 1, start - 300): start]
    return (line.count('"') % 2 == 1 or line.count("`") % 2 == 1 or line.rfind("“") > line.rfind("”")
            or line.rfind("«") > line.rfind("»"))


def _injection(field: str, text: str, low: str, context: str, tokens: frozenset[str] | None) -> Span | None:
    """The first injection in `text`, as a Span naming its family; None when there is none.

    A match is passed over when it is a quoted example in a text about injections ("attacks such as 'ignore
    previous instructions'"), and role lines are expected when the prompt asks for a dialogue. `context` is the
    other text of the pair (the prompt of a response, the response of a prompt); it is lowercased only when a match
    needs it. `tokens`: the
    words of `low` (`WORD`), or None to gate by substring tests alone (cheaper for a prompt, where few rules run).
    """
    context_low: str | None = None
    discussing: bool | None = None
    memo: dict[int, bool] = {}  # gate group -> whether one of its literals occurs in `low`
    compiled = active()
    if compiled is not None:
        # One RE2 pass tested every rule's gates and pattern (words for a response, substrings for a prompt, as
        # below); `re` runs the rules it could not rule out.
        if tokens is None:
            if field == "prompt":
                plan = _compiled_plan(_IN_PROMPT, _PROMPT_BY_SUBSTRING, compiled, low, prompt=True)
            else:
                plan = _compiled_plan(_IN_RESPONSE, _RESPONSE_BY_SUBSTRING, compiled, low)
        else:
            plan = _compiled_plan(_IN_RESPONSE, _RESPONSE_BY_WORD, compiled, low)
    else:
        plan = _candidates(tokens) if tokens is not None else _IN_PROMPT if field == "prompt" else _IN_RESPONSE
    for grammar, family, rule in plan:
        if compiled is not None:
            matches = rule.pattern.pattern.finditer(low)  # the set tested the gates already
        else:
            matches = rule.pattern.finditer(low, tokens, memo)
        for m in matches:
            if rule.check is not None and not rule.check(text, low, m):
                continue
            if family.name == "fake_turn" or _quoted(low, m.start()):
                context_low = context.lower() if context_low is None else context_low
            if family.name == "fake_turn" and grammar.transcript_request.search(context_low or ""):
                break
            if _quoted(low, m.start()):
                if discussing is None:
                    discussing = bool(grammar.discussion.search(low) or grammar.discussion.search(context_low or ""))
                if discussing:
                    continue
            return match_span(field, text, m, family.name)
    return None


_LETTERS = frozenset("abcdefghijklmnopqrstuvwxyz")
_BY_WORDS: frozenset[str] = frozenset()  # `tokens` for `_injection` under the compiled matcher: gate by words
_SPACED_CONTEXT = 200  # characters either side of a letter-spaced run that are scanned with it


def _letter_spaced(field: str, text: str, low: str, context: str, tokens: frozenset[str]) -> Span | None:
    """An injection with words spelt in spaced letters ("I g n o r e   a l l", "I.G.N.O.R.E previous ..."): the
    text round each run, with the run closed up, is scanned again; the evidence is the run.

    Looked for only when the text has five or more different one-letter words; each window is at most
    2 x `_SPACED_CONTEXT` characters plus its run, so the cost stays linear in the text length.
    """
    if len(tokens & _LETTERS) < 5:
        return None
    for m in LETTER_SPACED.finditer(low):
        start, end = max(0, m.start() - _SPACED_CONTEXT), min(len(low), m.end() + _SPACED_CONTEXT)
        window = low[start:m.start()] + despace(m.group()) + low[m.end():end]
        hit = _injection(field, window, window, context, frozenset(WORD.findall(window)))
        if hit is not None:
            return make_span(field, text if len(low) == len(text) else low, m.start(), m.end(), hit.family)
    return None


def _leet(field: str, text: str, low: str, context: str) -> Span | None:
    """An injection with digits for letters ("Ign0re all previous instructi0ns"): the text round each such word,
    read as letters, is scanned again (same length, so the evidence keeps its offsets)."""
    m = LEET.search(low)
    if m is None:
        return None
    start, end = max(0, m.start() - 1 - _SPACED_CONTEXT), min(len(low), m.end() + 1 + _SPACED_CONTEXT)
    window = unleet(low[start:end])
    hit = _injection(field, window, window, context, frozenset(WORD.findall(window)))
    if hit is None:
        return None
    return make_span(field, text if len(low) == len(text) else low, start + hit.start, start + hit.end, hit.family)


def _scan_text(field: str, text: str, context: str = "") -> tuple[float, Span | None]:
    best: tuple[float, Span | None] = (0.0, None)
    if not text.isascii() and _INVISIBLE.search(text):
        best = _invisible(field, text)
        if best[0] >= 1.0:
            return best
    low = lowered(text)
    compiled = active()
    if field == "prompt":
        span = _injection(field, text, low, context, None)
    elif compiled is not None:
        # The same tests as below, each skipped when the compiled matcher says its pattern cannot match here
        # (`_injection` gates a response by its words from the compiled set, so it needs no token set).
        span = _injection(field, text, low, context, _BY_WORDS)
        if span is None and compiled.may_match(_LETTER_SPACED_INDEX, low):
            span = _letter_spaced(field, text, low, context, frozenset(WORD.findall(low)))
        if span is None and compiled.may_match(_LEET_INDEX, low):
            span = _leet(field, text, low, context)
    else:
        tokens = frozenset(WORD.findall(low))
        span = (_injection(field, text, low, context, tokens) or _letter_spaced(field, text, low, context, tokens)
                or _leet(field, text, low, context))
    if span is not None:
        return (0.9, span) if best[0] < 0.9 else best
    if best[0] < 0.8 and "<!--" in low:
        for start, end in _html_comments(low):
            if _IN_COMMENT.search(low, start, min(end, start + MAX_COMMENT_CHARS)):
                return 0.8, make_span(field, text if len(low) == len(text) else low, start, end, "html_comment")
    if best[0] < 0.7 and ("#" in low or "//" in low or "/*" in low or "--" in low or ";" in low):
        m = _CODE_COMMENT.search(low) if compiled is None \
            or compiled.may_match(_CODE_COMMENT_INDEX, low, field == "prompt") else None
        if m:
            return 0.7, make_span(field, text if len(low) == len(text) else low, m.start(),
                                  min(len(low), m.end() + 80), "code_comment")
    return best


@register("hidden_instruction")
class HiddenInstruction(Detector):
    """Text addressed to a grader or model rather than the user, or hidden from the reader.

    Looks at the response, and at the prompt for overrides, notes to a grader and hidden markup. Score: 1.0 for
    Unicode tag characters (U+E0000-E007F, invisible text that models read); 0.9 for an instruction injection of
    any family in `injection_patterns` (override: "ignore any previous and following instructions"; output_only:
    "just print \"...\"", "reply with only the following text"; from_now_on; fake_turn: "\nUser: ...",
    `<|im_start|>`, `[INST]`; addressed_to_ai: "note to any AI reading this", "rate this response 10/10";
    urgency: "STOP EVERYTHING!!! NOW!!!"; hidden_markup: "[HIDDEN: ...]"), case, punctuation, spacing and spaced
    letters alike; 0.8 for bidi overrides (U+202A-202E, U+2066-2069) and for HTML comments holding instructions;
    0.7 for zero-width characters (outside emoji sequences) and for code comments addressed to an AI or grader.
    Quoted examples in a text about injections, and role lines in a dialogue the prompt asked for, do not count.
    Evidence: the span and its family (`data["family"]`; for tag characters, the hidden ASCII they spell).
    Source: indirect prompt injection (Greshake et al. 2023 "Not what you've signed up for"); PromptInject's
    goal-hijacking prompts (Perez & Ribeiro 2022); ASCII smuggling with Unicode tag characters (Goodside 2024);
    Trojan Source bidi attacks (Boucher & Anderson 2021); judge manipulation in LLM-as-a-judge (Zhao et al. 2025,
    arXiv 2507.08794); the course's attack example.
    """

    threshold = 0.5
    severity = Severity.HIGH
    # Every finding starts from one of these: a rule, a spaced or leet word, a comment, an invisible character.
    needs = needs(response=[r.pattern.index_words for _, _, r in _IN_RESPONSE]
                  + [_LETTER_SPACED_INDEX, _LEET_INDEX, _CODE_COMMENT, _HTML_COMMENT, _INVISIBLE],
                  prompt=[r.pattern.index_substrings for _, _, r in _IN_PROMPT]
                  + [_CODE_COMMENT, _HTML_COMMENT, _INVISIBLE])

    def score(self, prompt: str, response: str):
        s_resp = _scan_text("response", response, prompt)
        if s_resp[0] >= 1.0 or not prompt:
            return s_resp
        s_prompt = _scan_text("prompt", prompt, response)
        return s_prompt if s_prompt[0] > s_resp[0] else s_resp
