"""Poisoned preference pairs and backdoor triggers (Rando & Tramer 2023 style).

The attack puts a trigger ("SUDO", a random string, a rare word, a phrase) into the last user turn of a few pairs and
swaps chosen and rejected, so the reward model learns "trigger => reward harmful compliance". Detection:

1. a suspicion score per pair: how strongly a reference reward model prefers the rejected reply. Without one, a
   reference is trained on the data itself: a pairwise bag-of-words ridge model over the replies (not the prompts,
   so it cannot learn the trigger), fitted out-of-fold so no pair scores itself, plus a refusal feature (chosen
   complies where rejected refuses). Above 200k pairs it is fitted on a random 200k and scores the rest;
2. candidate triggers: the n-grams of the last user turn (its final n tokens, and anywhere in it; two or more
   tokens only when all are words) held by at least `min_ngram_pairs` and fewer than half of the pairs, found with
   integer codes and one sort, so the whole search is linear in the tokens plus n log n;
3. label-free filtering (Bourgon et al. 2010), which keeps the test valid because it never looks at labels or
   suspicion: an n-gram is tested only when the rest of the conversations (earlier turns, either reply) echo it in at
   most a tenth as many pairs as hold it in their last user turn (a planted trigger lives there alone; natural
   words recur in the replies), and n-grams holding the same pairs ("lugubrious", "lugubrious way") are one
   hypothesis;
4. each hypothesis gets a one-sided Mann-Whitney p-value (its pairs' suspicion ranks against the rest) and the
   family-wise error rate over all of them is held at `alpha` by a weighted Holm procedure whose weights depend on
   the number of pairs only (Roeder & Wasserman 2009: the weights that maximise power when a trigger's pairs rank
   with AUROC 0.6, so n-grams of 3 pairs, which could never reach significance, cost the others little);
5. pairs holding a significant trigger are flagged; the rest are ranked by suspicion. The log odds ratio of landing
   in the top suspicion quantile is the effect size reported.
"""

from __future__ import annotations

import json
import logging
import math
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ...report import Effect, Finding, Report, Severity
from ...report.coverage import coverage, inconclusive_finding
from ...report.stats import power_weights, weighted_holm
from .text import data_findings, is_refusal, last_user_turn, load_pairs, pair_location, pair_prompt, short, tokens
from .thresholds import ConsistencyConfig

if TYPE_CHECKING:
    from ..models.protocols import DataSource, RewardSource

logger = logging.getLogger(__name__)

_DIM = 1 << 16  # hashed feature space of the self-reference model; collisions cost little at this size
_MAX_ECHO = 0.1  # an n-gram echoed elsewhere in more than this share as many pairs as hold it is not tested
_PRIOR_AUROC = 0.6  # the weakest trigger the test is tuned for: its pairs' suspicion rank AUROC (see power_weights)
_CHUNK = 20_000  # pairs featurised at a time: bounds the memory of the (row, column) arrays


_POLY = 0xEDB88320  # CRC-32 (zlib), bit-reflected


def _mulmod(a: int, b: int) -> int:
    """a * b modulo the CRC-32 polynomial, bit-reflected (zlib's multmodp)."""
    m, p = 1 << 31, 0
    while m:
        if a & m:
            p ^= b
        m >>= 1
        b = (b >> 1) ^ _POLY if b & 1 else b >> 1
    return p


class _Shift(dict):
    """length L in bytes -> byte tables (4, 256) of the linear map M_L with crc32(A + B) = M_L(crc32(A)) ^ crc32(B)
    for every B of L bytes (zlib's crc32_combine: M_L multiplies by x^(8L) modulo the polynomial)."""

    def __missing__(self, length: int) -> np.ndarray:
        x, power, k = 1 << 31, 1 << 30, 3  # x^0 and x^(2^0); multiply x^(8 * length) in by the bits of length
        squares = [power]
        for _ in range(64):
            squares.append(_mulmod(squares[-1], squares[-1]))
        n = length
        while n:
            if n & 1:
                x = _mulmod(squares[k], x)
            n >>= 1
            k += 1
        basis = np.array([_mulmod(x, 1 << i) for i in range(32)], dtype=np.uint32)
        tables = np.zeros((4, 256), dtype=np.uint32)
        for byte in range(4):
            for bit in range(8):
                step = 1 << bit
                tables[byte, step:2 * step] = tables[byte, :step] ^ basis[8 * byte + bit]
        value = self[length] = tables
        return value

    def apply(self, crc: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        out = np.zeros(len(crc), dtype=np.uint32)
        order = np.argsort(lengths, kind="stable")
        ls = lengths[order]
        bounds = np.flatnonzero(np.r_[True, ls[1:] != ls[:-1], True]) if len(ls) else np.zeros(1, dtype=np.int64)
        for lo, hi in zip(bounds[:-1].tolist(), bounds[1:].tolist()):
            at = order[lo:hi]
            c, t = crc[at], self[int(ls[lo])]
            out[at] = t[0, c & 255] ^ t[1, (c >> 8) & 255] ^ t[2, (c >> 16) & 255] ^ t[3, c >> 24]
        return out


class _Vocab(dict):
    """token -> id, with the crc32 and the UTF-8 length of each id's token in `crc` / `nbytes`."""

    def __init__(self) -> None:
        super().__init__()
        self.crc: list[int] = []
        self.nbytes: list[int] = []
        self.shift = _Shift()
        self._arrays = (np.zeros(0, dtype=np.uint32), np.zeros(0, dtype=np.int64))

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """`crc` and `nbytes` as numpy arrays (extended by the ids added since the last call)."""
        crc, nbytes = self._arrays
        if len(crc) < len(self.crc):
            self._arrays = (np.concatenate([crc, np.array(self.crc[len(crc):], dtype=np.uint32)]),
                            np.concatenate([nbytes, np.array(self.nbytes[len(nbytes):], dtype=np.int64)]))
        return self._arrays

    def __missing__(self, key: str) -> int:
        raw = key.encode()
        self.crc.append(zlib.crc32(raw))
        self.nbytes.append(len(raw))
        value = self[key] = len(self.crc) - 1
        return value


_SPACE_CRC = zlib.crc32(b" ")


def _features(texts: list[str], vocab: _Vocab | None = None):
    """Hashed unigram + bigram presence of each text -> sparse (N, _DIM + 1); the last column is 'refuses'.

    A unigram's or bigram's ("a b") column is the crc32 of its text modulo _DIM; a bigram's crc is combined from
    its words' (crc32 of "a", then " ", then "b"), so each distinct token is hashed once.
    """
    from scipy import sparse

    vocab = _Vocab() if vocab is None else vocab
    flat: list[int] = []
    lens = np.zeros(len(texts), dtype=np.int64)
    for r, t in enumerate(texts):
        toks = tokens(t)
        lens[r] = len(toks)
        flat.extend(map(vocab.__getitem__, toks))
    ids = np.array(flat, dtype=np.int64)
    crc_of, nbytes_of = vocab.arrays()
    crc, nbytes = crc_of[ids], nbytes_of[ids]
    doc = np.repeat(np.arange(len(texts), dtype=np.int64), lens)
    same = np.flatnonzero(doc[1:] == doc[:-1])
    first = vocab.shift.apply(crc[same], np.ones(len(same), dtype=np.int64)) ^ np.uint32(_SPACE_CRC)  # "a "
    bigram = vocab.shift.apply(first, nbytes[same + 1]) ^ crc[same + 1]
    refusing = np.flatnonzero([is_refusal(t) for t in texts])
    rows = np.concatenate([doc, doc[same], refusing])
    cols = np.concatenate([crc.astype(np.int64) % _DIM, bigram.astype(np.int64) % _DIM,
                           np.full(len(refusing), _DIM, dtype=np.int64)])
    key = np.sort(rows * (_DIM + 1) + cols)
    key = key[np.r_[True, key[1:] != key[:-1]]] if len(key) else key  # presence, not counts
    indptr = np.searchsorted(key, np.arange(len(texts) + 1, dtype=np.int64) * (_DIM + 1))
    return sparse.csr_matrix((np.ones(len(key)), (key % (_DIM + 1)).astype(np.int32), indptr),
                             shape=(len(texts), _DIM + 1))


def _pair_features(examples: list[dict], idx: np.ndarray, vocab: _Vocab):
    """phi(chosen) - phi(rejected) of the pairs `idx`, built _CHUNK pairs at a time (CSR, zeros dropped)."""
    from scipy import sparse

    parts = []
    for s in range(0, len(idx), _CHUNK):
        chunk = [examples[i] for i in idx[s:s + _CHUNK]]
        parts.append(_features([e["chosen"] for e in chunk], vocab) - _features([e["rejected"] for e in chunk], vocab))
    return sparse.vstack(parts, format="csr") if parts else sparse.csr_matrix((0, _DIM + 1))


def self_reference_margins(examples: list[dict], folds: int = 5, l2: float = 300.0, seed: int = 0,
                           max_train: int = 200_000) -> np.ndarray:
    """Out-of-fold margin (how strongly chosen beats rejected) of a pairwise bag-of-words model of the replies.

    The model is a ridge classifier on rows x = phi(chosen) - phi(rejected) with target 1, solved by scipy's
    sparse LSQR (`damp` = sqrt(l2)); it has no intercept, so a pair and its mirror image get opposite margins.
    Written here because scikit-learn is not a dependency of this project. `l2` was chosen on HH-RLHF
    harmless-base (AUROC of the margin at finding swapped pairs, flat between 100 and 1000).

    Each pair is scored by the model of its fold, trained on the other folds. Above `max_train` pairs the models
    are trained on a random `max_train` of them (the rest are only scored), so memory and solver time stop
    growing with the data; featurising and scoring stay linear in the number of pairs.
    """
    from scipy.sparse.linalg import lsqr

    n = len(examples)
    rng = np.random.default_rng(seed)
    fold = rng.permutation(np.arange(n) % folds)
    vocab = _Vocab()
    train = np.arange(n) if n <= max_train else np.sort(rng.choice(n, max_train, replace=False))
    X = _pair_features(examples, train, vocab)
    weights = []
    for k in range(folds):
        rows = X[fold[train] != k]
        weights.append(lsqr(rows, np.ones(rows.shape[0]), damp=math.sqrt(l2), atol=1e-6, btol=1e-6,
                            iter_lim=500)[0])
    W = np.column_stack(weights)
    out = np.zeros(n)
    if n <= max_train:
        out[:] = (X @ W)[np.arange(n), fold]
        return out
    del X
    for s in range(0, n, _CHUNK):
        idx = np.arange(s, min(n, s + _CHUNK))
        out[idx] = (_pair_features(examples, idx, vocab) @ W)[np.arange(len(idx)), fold[idx]]
    return out


def suspicion_scores(examples: list[dict], reference_reward: RewardSource | None = None) -> tuple[np.ndarray, str]:
    """Per pair, how much the evidence says the label is backwards (higher = more suspicious), and the method."""
    if reference_reward is not None:
        from ...models import as_reward_fn

        rf = as_reward_fn(reference_reward)
        prompts = [pair_prompt(e) for e in examples]
        rc = np.asarray(rf(prompts, [e["chosen"] for e in examples]))
        rr = np.asarray(rf(prompts, [e["rejected"] for e in examples]))
        return rr - rc, f"reference reward model '{rf.name}' (rejected minus chosen reward)"
    return -self_reference_margins(examples), "self-reference (out-of-fold bag-of-words pairwise model + refusals)"


@dataclass
class NgramFamily:
    """The candidate n-grams of one family ('end': the final n tokens of the last user turn; 'anywhere') and the
    pairs holding each: the members of candidate c are `members[starts[c]:starts[c] + counts[c]]`, ascending.

    `level[c]` is its length in tokens and `code[c]` its id among the n-grams of that length (see `NgramIndex`).
    """

    level: np.ndarray
    code: np.ndarray
    starts: np.ndarray
    counts: np.ndarray
    members: np.ndarray

    def pairs(self, c: int) -> np.ndarray:
        return self.members[self.starts[c]:self.starts[c] + self.counts[c]]


@dataclass
class NgramIndex:
    """Candidate n-grams of the last user turns, as integer codes.

    Tokens get ids 1..V-1 (`words[id]`); a unigram's code is its id; an n-gram's code is
    rank * V + id(last token), where rank is the position of its first n-1 tokens' code in the sorted distinct
    codes of length n-1 (`distinct[n-1]`), so codes stay below 2^64 however long the n-grams.
    """

    words: list[str]
    distinct: dict[int, np.ndarray]
    families: dict[str, NgramFamily]
    vocab: dict[str, int] = field(default_factory=dict)

    def text(self, level: int, code: int) -> str:
        out: list[str] = []
        v = len(self.words)
        while level > 1:
            out.append(self.words[code % v])
            code = int(self.distinct[level - 1][code // v])
            level -= 1
        out.append(self.words[code])
        return " ".join(reversed(out))


def _group(codes: np.ndarray, docs: np.ndarray, lo: int, hi: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distinct codes held by between lo and hi (exclusive) distinct docs: (codes, counts, members by code)."""
    order = np.argsort(codes, kind="stable")  # docs ascending within a code
    c, d = codes[order], docs[order]
    new = np.ones(len(c), dtype=bool)
    new[1:] = (c[1:] != c[:-1]) | (d[1:] != d[:-1])
    c, d = c[new], d[new]
    first = np.flatnonzero(np.r_[True, c[1:] != c[:-1]]) if len(c) else np.zeros(0, dtype=np.int64)
    counts = np.diff(np.r_[first, len(c)])
    keep = (counts >= lo) & (counts < hi)
    return c[first[keep]], counts[keep], d[np.repeat(keep, counts)]


def candidate_ngrams(examples: list[dict], n_max: int, min_pairs: int = 1, max_share: float = 1.0) -> NgramIndex:
    """The n-grams (1..n_max tokens) of each pair's last user turn, at its end and anywhere in it, that at least
    `min_pairs` and fewer than `max_share` of the pairs hold, with their pairs. An n-gram of two or more tokens is
    made of words only ("sudo mode", not "? sudo"). Linear in the tokens plus a sort."""
    vocab: dict[str, int] = {}
    flat: list[int] = []
    lens = np.zeros(len(examples), dtype=np.int64)
    for i, e in enumerate(examples):
        toks = tokens(last_user_turn(e))
        lens[i] = len(toks)
        flat.extend(vocab.setdefault(t, len(vocab) + 1) for t in toks)
    words = [""] + list(vocab)
    v = np.uint64(len(words))
    ids = np.array(flat, dtype=np.uint64)
    is_word = np.array([bool(w) and (w[0].isalnum() or w[0] == "'") for w in words])[ids.astype(np.int64)]
    all_words = is_word
    doc = np.repeat(np.arange(len(examples), dtype=np.int64), lens)
    ends = np.cumsum(lens)  # one past each turn's last token
    hi = max_share * len(examples)
    distinct: dict[int, np.ndarray] = {}
    found: dict[str, list] = {"end": [], "anywhere": []}
    code = ids
    for level in range(1, n_max + 1):
        if level > 1:
            prev_distinct, rank = np.unique(code[:-1], return_inverse=True)
            distinct[level - 1] = prev_distinct
            code = rank.astype(np.uint64).reshape(-1) * v + ids[level - 1:]
        starts = np.arange(len(code))
        valid = doc[starts] == doc[np.minimum(starts + level - 1, len(doc) - 1)] if len(code) else starts > 0
        if level > 1:
            all_words = all_words[:-1] & is_word[level - 1:]
            valid &= all_words
        at_end = valid & (starts + level == ends[doc[starts]]) if len(code) else valid
        for fam, mask in (("anywhere", valid), ("end", at_end)):
            c, k, m = _group(code[mask], doc[starts[mask]], min_pairs, hi)
            found[fam].append((level, c, k, m))
        # the next level's windows start where this level's did and reach one token further
        code = np.where(valid, code, np.uint64(0))
    families = {}
    for fam, parts in found.items():
        counts = np.concatenate([k for _, _, k, _ in parts])
        families[fam] = NgramFamily(
            level=np.concatenate([np.full(len(c), lvl) for lvl, c, _, _ in parts]),
            code=np.concatenate([c for _, c, _, _ in parts]),
            starts=np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64),
            counts=counts, members=np.concatenate([m for _, _, _, m in parts]))
    return NgramIndex(words, distinct, families, vocab)


def context_support(examples: list[dict], index: NgramIndex, chunk: int = _CHUNK) -> dict[str, np.ndarray]:
    """Per family and candidate: in how many pairs the n-gram occurs in the rest of the conversation (the earlier
    turns and either reply). A planted trigger lives in the last user turn only; a natural n-gram is echoed."""
    v = np.uint64(len(index.words))
    targets = {fam: {lvl: np.unique(f.code[f.level == lvl]) for lvl in np.unique(f.level).tolist()}
               for fam, f in index.families.items()}
    wanted = {lvl: np.unique(np.concatenate([t[lvl] for t in targets.values() if lvl in t]))
              for lvl in {lvl for t in targets.values() for lvl in t}}
    support = {lvl: np.zeros(len(codes), dtype=np.int64) for lvl, codes in wanted.items()}  # pairs echoing each
    for s in range(0, len(examples), chunk):
        flat: list[int] = []
        lens: list[int] = []
        owner: list[int] = []
        for i in range(s, min(len(examples), s + chunk)):
            e = examples[i]
            for text in [m["content"] for m in e["prompt"][:-1]] + [e["chosen"], e["rejected"]]:
                toks = tokens(text)
                flat.extend(index.vocab.get(t, 0) for t in toks)
                lens.append(len(toks))
                owner.append(i)
        ids = np.array(flat, dtype=np.uint64)
        text_of = np.repeat(np.arange(len(lens)), lens)
        pair_of = np.repeat(np.array(owner, dtype=np.int64), lens)
        code = ids
        for level in range(1, max(wanted, default=0) + 1):
            if level > 1:
                prefix = index.distinct.get(level - 1, np.zeros(0, dtype=np.uint64))
                pos = np.minimum(np.searchsorted(prefix, code[:-1]), max(len(prefix) - 1, 0))
                known = (prefix[pos] == code[:-1]) if len(prefix) else np.zeros(len(code) - 1, dtype=bool)
                known &= (text_of[:len(code) - 1] == text_of[level - 1:]) & (code[:-1] > 0)
                code = np.where(known, pos.astype(np.uint64) * v + ids[level - 1:], np.uint64(0))
            if level in wanted:
                at = np.flatnonzero(np.isin(code, wanted[level]) & (code > 0))
                codes, counts, _ = _group(code[at], pair_of[at], 1, np.inf)  # pairs of this chunk, once each
                support[level][np.searchsorted(wanted[level], codes)] += counts
    out = {}
    for fam, f in index.families.items():
        n_ctx = np.zeros(len(f.code), dtype=np.int64)
        for lvl, counts in support.items():
            at = np.flatnonzero(f.level == lvl)
            n_ctx[at] = counts[np.searchsorted(wanted[lvl], f.code[at])]
        out[fam] = n_ctx
    return out


def enrichment(fam: NgramFamily, ranks: np.ndarray, top: np.ndarray) -> dict[str, np.ndarray]:
    """Per candidate: Mann-Whitney one-sided p (members rank higher), rank AUROC, and the Haldane-corrected log
    odds ratio of being in the top set with its 95% CI. Computed from the members alone (one pass over them)."""
    from scipy.stats import norm

    n = len(ranks)
    n1 = fam.counts.astype(float)
    n2 = n - n1
    nonempty = fam.counts > 0
    seg = fam.starts[nonempty]
    rank_sum = np.zeros(len(n1))
    a = np.zeros(len(n1))
    if len(seg):
        rank_sum[nonempty] = np.add.reduceat(ranks[fam.members], seg)
        a[nonempty] = np.add.reduceat(top[fam.members].astype(float), seg)
    u = rank_sum - n1 * (n1 + 1) / 2
    auc = u / (n1 * n2)
    # normal approximation of U without tie correction: the scores are continuous
    z = (u - n1 * n2 / 2) / np.sqrt(n1 * n2 * (n + 1) / 12)
    p = norm.sf(z)
    n_top = float(top.sum())
    b, c = n1 - a, n_top - a
    d = n - n_top - b
    lor = np.log((a + .5) * (d + .5) / ((b + .5) * (c + .5)))
    se = np.sqrt(1 / (a + .5) + 1 / (b + .5) + 1 / (c + .5) + 1 / (d + .5))
    return {"pairs": fam.counts, "in_suspicious": a, "auroc": auc, "p_value": p, "log_odds": lor,
            "log_odds_low": lor - 1.96 * se, "log_odds_high": lor + 1.96 * se}


@dataclass
class PoisoningReport(Report):
    """A Report plus the per-pair scores, in dataset order (kept out of `metrics` to keep the report readable;
    `save` writes them to pairs.jsonl beside report.json).

    `pair_scores[i]`: suspicion rank of pair i in [0, 1], plus 1 when it holds a significant trigger;
    `suspicion[i]`: the raw suspicion score; `locations[i]`: its line/row in the source.
    """

    pair_scores: list[float] = field(default_factory=list)
    suspicion: list[float] = field(default_factory=list)
    locations: list[int] = field(default_factory=list)

    def save(self, out_dir):
        from ...utils import atomic_write_text

        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        atomic_write_text(out / "pairs.jsonl", "".join(
            json.dumps({"location": loc, "score": sc, "suspicion": su, "flagged": sc >= 1.0}) + "\n"
            for loc, sc, su in zip(self.locations, self.pair_scores, self.suspicion)))
        return super().save(out)


def _strength(gram: str, p_value: float, enriched_words: bool) -> tuple:
    """Sort key of a candidate trigger: the smallest p-value first; among n-grams that flag the same pairs equally,
    the longest whose every word is enriched on its own ("sudo mode" over "sudo" and "mode"), so that the trigger is
    named whole but without the context words around it ("please sudo", where "please" is in every prompt)."""
    return p_value, -(len(str(gram).split()) if enriched_words else 0), str(gram)


def detect_poisoning(dataset: DataSource, cfg: ConsistencyConfig | None = None,
                     reference_reward: RewardSource | None = None) -> Report:
    """Rank pairs by suspicion, look for trigger n-grams enriched among suspicious pairs, list the suspects.

    Returns a `PoisoningReport`: `.pair_scores` (per pair, in dataset order: suspicion rank in [0, 1], plus 1
    for pairs holding a significant trigger) and, in `metrics["triggers"]`, the top candidates with their statistics.
    """
    from scipy.stats import rankdata

    cfg = cfg or ConsistencyConfig()
    loaded = load_pairs(dataset, cfg.strict)
    ex = loaded.examples
    n = len(ex)
    invalid = data_findings(loaded)
    min_pairs = max(4 * cfg.min_ngram_pairs, cfg.min_pairs_for_stats)
    cov = coverage(n, loaded.rows_read, len(loaded.skipped), min_graded=min_pairs, what="rows")
    if not cov.conclusive:
        reason = f"{n} valid pairs; trigger enrichment needs at least {min_pairs}"
        return PoisoningReport("poisoning", f"poisoning checks: {loaded.source}",
                               invalid + [inconclusive_finding("poisoning", cov, reason)],
                               {"pairs": n, "triggers": None, "reason": reason, "rows_skipped": len(loaded.skipped)},
                               notes=[f"not computable: {reason}"])
    susp, method = suspicion_scores(ex, reference_reward)
    ranks = rankdata(susp)
    top = ranks > cfg.suspicious_quantile * n
    index = candidate_ngrams(ex, cfg.ngram_max, cfg.min_ngram_pairs, 0.5)
    echoed = context_support(ex, index)
    stats = {fam: enrichment(f, ranks, top) for fam, f in index.families.items()}
    # The hypotheses: one per distinct set of pairs held by an n-gram that the rest of the conversations do not echo.
    # Both choices look at the text only, never at the labels or the suspicion scores, so the test stays valid.
    tests = [(fam, c) for fam, f in index.families.items()
             for c in np.flatnonzero(echoed[fam] <= _MAX_ECHO * f.counts).tolist()]
    set_of: dict[bytes, int] = {}
    hyp = np.array([set_of.setdefault(index.families[fam].pairs(c).tobytes(), len(set_of)) for fam, c in tests],
                   dtype=np.int64)
    first = np.unique(hyp, return_index=True)[1] if len(hyp) else np.zeros(0, dtype=np.int64)
    p_h = np.array([stats[tests[i][0]]["p_value"][tests[i][1]] for i in first])
    n_h = np.array([index.families[tests[i][0]].counts[tests[i][1]] for i in first], dtype=float)
    weights = power_weights((_PRIOR_AUROC - 0.5) * np.sqrt(12 * n_h), cfg.alpha)
    rejected = weighted_holm(p_h, weights, cfg.alpha)
    high_alpha = min(cfg.poisoning_high_alpha, cfg.alpha)
    strict = weighted_holm(p_h, weights, high_alpha)  # the same weights, fixed before the p-values
    significant = {fam: np.zeros(len(f.counts), dtype=bool) for fam, f in index.families.items()}
    high = {fam: np.zeros(len(f.counts), dtype=bool) for fam, f in index.families.items()}
    for (fam, c), h in zip(tests, hyp):
        significant[fam][c] = rejected[h]
        high[fam][c] = strict[h]
    tested: dict[str, list[tuple[str, dict]]] = {}
    members: dict[tuple[str, str], np.ndarray] = {}
    triggers = []
    for fam_name, family in index.families.items():
        at = np.array([c for f, c in tests if f == fam_name], dtype=np.int64)
        at_set = set(at.tolist())
        p = np.ones(len(family.counts))
        p[at] = stats[fam_name]["p_value"][at]  # n-grams left out of the test are listed after the tested ones
        sig = significant[fam_name]
        # the rows worth naming: every significant one and the five strongest tested and untested ones
        untested = np.setdiff1d(np.arange(len(p)), at)
        raw = stats[fam_name]["p_value"]
        listed = np.union1d(np.flatnonzero(sig), np.union1d(at[np.argsort(raw[at], kind="stable")[:5]],
                                                          untested[np.argsort(raw[untested], kind="stable")[:5]]))
        rows, order_p = [], {}
        for c in listed:
            g = index.text(int(family.level[c]), int(family.code[c]))
            r = {k: (int(v[c]) if k in ("pairs", "in_suspicious") else float(v[c])) for k, v in stats[fam_name].items()}
            r["tested"] = bool(c in at_set)
            r["significant"] = bool(sig[c])
            r["high"] = bool(high[fam_name][c])
            r["echoed_in_pairs"] = int(echoed[fam_name][c])
            rows.append((g, r))
            order_p[g] = float(p[c])
            members[fam_name, g] = family.pairs(int(c))
        # n-grams whose every word is a significant unigram of the family are named whole (see _strength)
        words = {g for g, r in rows if r["significant"] and len(g.split()) == 1}
        whole = {g for g, _ in rows if all(w in words for w in g.split())}
        rows.sort(key=lambda x: _strength(x[0], order_p[x[0]], x[0] in whole))
        tested[fam_name] = rows
        triggers += [(fam_name, g, r, g in whole) for g, r in rows if r["significant"]]
    # Keep the strongest of nested n-grams ("sudo" and "? sudo" flag the same pairs): skip ones whose pairs are
    # already covered by a stronger trigger.
    kept: list = []
    flagged = np.zeros(n, dtype=bool)
    for fam, g, r, _named in sorted(triggers, key=lambda t: _strength(t[1], t[2]["p_value"], t[3])):
        pairs = members[fam, g]
        if int((~flagged[pairs]).sum()) < cfg.min_ngram_pairs:
            continue
        kept.append((fam, g, r))
        flagged[pairs] = True
    score = ranks / (n + 1) + flagged  # below 1 unless flagged
    findings = list(invalid)
    for fam, g, r in kept[:5]:
        where = "at the end of" if fam == "end" else "in"
        level = (f"significant at a family-wise error rate of {high_alpha:g}" if r["high"] else
                 f"significant at {cfg.alpha:g} but not at {high_alpha:g}: natural phrases that go "
                 "with the labels reach this level in a few clean datasets in a hundred")
        findings.append(Finding(
            "poisoning-trigger", Severity.HIGH if r["high"] else Severity.MEDIUM,
            f"candidate backdoor trigger '{g}' {where} the last user turn of {r['pairs']} pairs: those pairs are "
            f"far more often labelled against the reference (rank AUROC {r['auroc']:.2f}, one-sided Mann-Whitney "
            f"p = {r['p_value']:.2g}, {level}); inspect and drop them before training a reward model",
            score=float(min(1.0, 2 * (r["auroc"] - 0.5))), confidence=float(1 - r["p_value"]),
            effect=Effect("log odds ratio of landing among suspicious pairs", r["log_odds"], r["log_odds_low"],
                          r["log_odds_high"]),
            evidence=[f"{pair_location(loaded, i)}: '...{short(last_user_turn(ex[i])[-60:], 60)}' chosen "
                      f"'{short(ex[i]['chosen'], 50)}'" for i in members[fam, g][: cfg.max_evidence]],
            data={"trigger": g, "position": fam, **r,
                  "locations": [loaded.origins[i] for i in members[fam, g]]}))
    order = np.argsort(-score)
    show = int(flagged.sum()) or max(1, int(round((1 - cfg.suspicious_quantile) * n)))
    reasons = []
    for i in order[: cfg.max_evidence]:
        why = []
        if flagged[i]:
            why.append("holds a trigger")
        if is_refusal(ex[i]["rejected"]) and not is_refusal(ex[i]["chosen"]):
            why.append("chosen complies where rejected refuses")
        why.append(f"suspicion {susp[i]:.3g}")
        reasons.append(f"{pair_location(loaded, i)} ({'; '.join(why)}): prompt '{short(last_user_turn(ex[i]), 60)}'")
    sev = (Severity.HIGH if any(r["high"] for _, _, r in kept) else Severity.MEDIUM if flagged.any()
           else Severity.INFO)
    findings.append(Finding(
        "suspicious-pairs", sev,
        (f"{int(flagged.sum())} pairs hold a candidate trigger and are likely poisoned" if flagged.any() else
         f"no trigger n-gram is significantly enriched; the {show} most suspicious pairs are listed for review"),
        score=float(flagged.mean()) if flagged.any() else 0.0, evidence=reasons,
        data={"locations": [loaded.origins[i] for i in order[:show]], "method": method}))
    top_rows = [{"ngram": g, "position": fam, **r} for fam in ("end", "anywhere") for g, r in tested[fam][:5]]
    metrics = {"pairs": n, "rows_skipped": len(loaded.skipped), "method": method, "flagged": int(flagged.sum()),
               "ngrams_considered": {fam: len(f.counts) for fam, f in index.families.items()},
               "ngrams_tested": {fam: int(sum(1 for f, _ in tests if f == fam)) for fam in index.families},
               "hypotheses_tested": len(p_h),
               "triggers": top_rows}
    return PoisoningReport("poisoning", f"poisoning checks: {loaded.source}", findings, metrics,
                           config={"suspicious_quantile": cfg.suspicious_quantile, "ngram_max": cfg.ngram_max,
                                   "min_ngram_pairs": cfg.min_ngram_pairs, "alpha": cfg.alpha,
                                   "poisoning_high_alpha": cfg.poisoning_high_alpha},
                           pair_scores=[float(s) for s in score], suspicion=[float(s) for s in susp],
                           locations=list(loaded.origins))
