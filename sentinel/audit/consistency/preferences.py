"""Preference-data checks: contradictions a reward model cannot learn from, and confounds it will learn instead.

- `conflicting-duplicates`: the same prompt and replies (exactly, or after normalisation / near-identical by
  token Jaccard) labelled both ways;
- `chosen-equals-rejected`: a pair whose two replies are the same text;
- `intransitive-cycle`: replies to one prompt appearing in several pairs with A > B, B > C, C > A;
- `confound-<feature>`: the share of pairs where the chosen reply is longer / has a list / a disclaimer / ...,
  against 50%, with a Wilson 95% CI and a Holm-corrected binomial test;
- `label-noise` (with a reference reward model): the share of pairs the reference prefers the other way.
"""

from __future__ import annotations

import hashlib
import logging
from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ...progress import track
from ...report import Effect, Finding, Report, Severity
from ...report.coverage import MIN_GRADED, coverage, inconclusive_finding
from ...report.stats import holm_bonferroni, wilson_ci
from .text import (
    STYLE_FEATURES,
    TOKEN,
    MinHasher,
    data_findings,
    jaccard,
    load_pairs,
    normalise,
    pair_location,
    pair_prompt,
    short,
)
from .thresholds import ConsistencyConfig

if TYPE_CHECKING:
    from ...models.protocols import DataSource, RewardSource

logger = logging.getLogger(__name__)


def _digest(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=12).digest(), "little")


def _normalised(e: dict) -> tuple[str, str, str]:
    return normalise(pair_prompt(e)), normalise(e["chosen"]), normalise(e["rejected"])


def _token_sets(norm: tuple[str, str, str]) -> tuple[set[str], ...]:
    """Token sets of a pair's normalised prompt, chosen and rejected reply (`_normalised`: lower case already)."""
    return tuple(set(TOKEN.findall(t)) for t in norm)


_PROMPT_SALT, _REPLY_SALT = 0x5A17, 0xC0FFEE  # prompt and reply words hash apart


@dataclass
class PairIndex:
    """What the repeat and cycle checks need of each pair, without holding its texts a second time.

    `keys[i]`: 96-bit digests of pair i's normalised prompt, chosen and rejected reply (equal texts, equal
    digests; two different texts among a billion collide with odds under 1e-10). `bands[i]`: the MinHash band keys
    of the pair's token set (prompt words and reply words apart, chosen and rejected together, so that a flipped
    pair hashes alike). `sketch[i]`: the first `SKETCH` values of the prompt's, chosen's and rejected's own
    signatures, to estimate their Jaccard similarities to another pair's before computing them exactly. About 450
    bytes a pair, so a million pairs take about 450 MB on top of the pairs themselves.
    """

    SKETCH = 16

    keys: list[tuple[int, int, int]]
    bands: np.ndarray
    sketch: np.ndarray
    minhash: MinHasher

    def similar(self, a: np.ndarray, b: np.ndarray, threshold: float) -> np.ndarray:
        """Mask of the pairs (a[k], b[k]) whose estimated Jaccard similarities could make them near duplicates
        (same or flipped labels): prompts, and both replies one way or the other, at least `threshold`."""
        sa, sb = self.sketch[a], self.sketch[b]

        def est(x: int, y: int) -> np.ndarray:
            return (sa[:, x] == sb[:, y]).mean(axis=1) >= threshold

        return est(0, 0) & ((est(1, 1) & est(2, 2)) | (est(1, 2) & est(2, 1)))


def index_pairs(examples: list[dict]) -> PairIndex:
    mh = MinHasher()
    keys: list[tuple[int, int, int]] = []
    bands = np.empty((len(examples), mh.bands), dtype=np.uint64)
    sketch = np.empty((len(examples), 3, PairIndex.SKETCH), dtype=np.uint32)
    for i, e in enumerate(track(examples, "data: index pairs", total=len(examples), unit="pairs")):
        norm = _normalised(e)
        keys.append((_digest(norm[0]), _digest(norm[1]), _digest(norm[2])))
        p, c, r = _token_sets(norm)
        sigs = [mh.signature(mh.hashes(p, _PROMPT_SALT)), mh.signature(mh.hashes(c, _REPLY_SALT)),
                mh.signature(mh.hashes(r, _REPLY_SALT))]
        bands[i] = mh.band_keys(np.minimum(sigs[0], np.minimum(sigs[1], sigs[2])))
        sketch[i] = np.stack(sigs)[:, :PairIndex.SKETCH]  # the low 32 bits: collisions of 2^-32
    return PairIndex(keys, bands, sketch, mh)


def duplicates(loaded, index: PairIndex, cfg: ConsistencyConfig) -> tuple[list[Finding], dict[str, Any]]:
    """Exact (after normalisation) and near duplicates, split into same-label repeats and conflicts."""
    keys = index.keys
    first: dict[tuple[int, int, int], int] = {}
    conflicts: list[tuple[int, int, str]] = []
    repeats = 0
    repeated: list[tuple[int, int]] = []
    for i, k in enumerate(keys):
        if k[1] == k[2]:
            continue
        flipped = (k[0], k[2], k[1])
        if flipped in first:
            conflicts.append((first[flipped], i, "exact"))
        if k in first:
            repeats += 1
            repeated.append((first[k], i))
        first.setdefault(k, i)
    del first
    seen = {(a, b) for a, b, _ in conflicts}
    # near duplicates: LSH candidates; of those, the ones whose sketches allow it (an estimate from 16 hash
    # functions puts a text pair of similarity 0.9 below 0.55 with odds of 6e-5); then exact token sets of just those
    thr = cfg.near_duplicate_jaccard
    pairs: set[tuple[int, int]] = set()
    chunk = 1 << 18  # candidate pairs sifted at a time (bounds the sketches gathered in memory)
    for a_idx, b_idx in index.minhash.candidates(index.bands):
        for start in range(0, len(a_idx), chunk):
            a_chunk, b_chunk = a_idx[start:start + chunk], b_idx[start:start + chunk]
            keep = index.similar(a_chunk, b_chunk, thr - 0.35)
            pairs.update(zip(a_chunk[keep].tolist(), b_chunk[keep].tolist()))
    toks: dict[int, tuple[set[str], ...]] = {}
    near_repeats = 0
    for a, b in sorted(pairs):
        if (a, b) in seen or keys[a] == keys[b] or keys[a][1] == keys[a][2] or keys[b][1] == keys[b][2]:
            continue
        for i in (a, b):
            if i not in toks:
                toks[i] = _token_sets(_normalised(loaded.examples[i]))
        (pa, ca, ra), (pb, cb, rb) = toks[a], toks[b]
        if jaccard(pa, pb) < thr:
            continue
        if jaccard(ca, rb) >= thr and jaccard(ra, cb) >= thr and jaccard(ca, cb) < thr:
            conflicts.append((a, b, "near"))
        elif jaccard(ca, cb) >= thr and jaccard(ra, rb) >= thr:
            near_repeats += 1
            repeated.append((a, b))
    ex = loaded.examples
    findings = []
    metrics = {"conflicting_duplicates": sum(1 for c in conflicts if c[2] == "exact"),
               "near_conflicting_duplicates": sum(1 for c in conflicts if c[2] == "near"),
               "repeated_pairs": repeats, "near_repeated_pairs": near_repeats}
    n = len(ex)
    for kind, fid in (("exact", "conflicting-duplicates"), ("near", "near-conflicting-duplicates")):
        group = [(a, b) for a, b, k in conflicts if k == kind]
        if not group:
            continue
        many = len(group) >= max(2, 0.01 * n)
        if kind == "exact":
            sev = Severity.HIGH if many else Severity.MEDIUM
            what = "appear twice with opposite labels (identical after normalising case, spacing and quotes)"
        else:
            # a one-token difference can be the whole point (a number, "not"): near conflicts need a look
            sev = Severity.MEDIUM if many else Severity.LOW
            what = (f"have a near-identical twin (token Jaccard >= {thr}) with the opposite label; check the "
                    "evidence, since the few differing words may be what decides the label")
        findings.append(Finding(
            fid, sev,
            f"{len(group)} pairs {what}; a reward model gets contradictory signal from them (annotation errors "
            "or tampering)",
            score=min(1.0, len(group) / max(1, n) * 20),
            effect=Effect("share of pairs in a conflicting duplicate", 2 * len(group) / n),
            evidence=[f"{pair_location(loaded, a)} vs {pair_location(loaded, b)}: prompt "
                      f"'{short(pair_prompt(ex[a]), 60)}', chosen '{short(ex[a]['chosen'], 50)}' vs "
                      f"'{short(ex[b]['chosen'], 50)}'" for a, b in group[: cfg.max_evidence]],
            data={"pairs": [[loaded.origins[a], loaded.origins[b]] for a, b in group]}))
    if repeats or near_repeats:
        findings.append(Finding("repeated-pairs", Severity.INFO,
                                f"{repeats} exact and {near_repeats} near repeats of a pair with the same label "
                                "(they weigh those pairs more in training)",
                                score=min(1.0, (repeats + near_repeats) / len(ex)),
                                evidence=[f"{pair_location(loaded, a)} repeated at {pair_location(loaded, b)}"
                                          for a, b in repeated[: cfg.max_evidence]],
                                data={"pairs": [[loaded.origins[a], loaded.origins[b]] for a, b in repeated]}))
    return findings, metrics


def identical_replies(loaded, index: PairIndex, cfg) -> tuple[list[Finding], dict[str, Any]]:
    keys = index.keys
    same = [i for i, k in enumerate(keys) if k[1] == k[2]]
    if not same:
        return [], {"chosen_equals_rejected": 0}
    f = Finding("chosen-equals-rejected", Severity.MEDIUM,
                f"{len(same)} pairs have the same reply as chosen and rejected (after normalisation); they carry "
                "no preference and push the reward margin towards zero",
                score=min(1.0, len(same) / len(keys) * 20),
                evidence=[f"{pair_location(loaded, i)}: '{short(loaded.examples[i]['chosen'])}'"
                          for i in same[: cfg.max_evidence]],
                data={"locations": [loaded.origins[i] for i in same]})
    return [f], {"chosen_equals_rejected": len(same)}


def cycles(loaded, index: PairIndex, cfg) -> tuple[list[Finding], dict[str, Any]]:
    """Preference cycles of length >= 3 among replies to the same prompt (2-cycles are conflicting duplicates)."""
    import networkx as nx

    by_prompt: dict[int, list[int]] = defaultdict(list)  # a cycle stays within one prompt: one small graph each
    for i, (p, c, r) in enumerate(index.keys):
        if c != r:
            by_prompt[p].append(i)
    found = []  # per cycle, the pair indices along it
    for pairs in by_prompt.values():
        if len(pairs) < 3:
            continue
        g = nx.DiGraph()
        for i in pairs:
            g.add_edge(index.keys[i][1], index.keys[i][2], index=i)
        for comp in nx.strongly_connected_components(g):
            if len(comp) < 3:
                continue
            for cyc in nx.simple_cycles(g.subgraph(comp), length_bound=min(len(comp), 6)):
                if len(cyc) >= 3:
                    found.append([g.edges[cyc[j], cyc[(j + 1) % len(cyc)]]["index"] for j in range(len(cyc))])
                    break  # one witness per tangled component is enough to show it
    if not found:
        return [], {"intransitive_cycles": 0}
    ev: list[str] = []
    where: list[list] = []
    for idx in found:
        where.append([loaded.origins[i] for i in idx])
        if len(ev) >= cfg.max_evidence:
            continue
        ev.append(" > ".join(f"'{short(loaded.examples[i]['chosen'], 40)}' ({pair_location(loaded, i)})" for i in idx)
                  + " > back to the first")
    f = Finding("intransitive-cycle", Severity.MEDIUM,
                f"{len(found)} groups of replies to one prompt are ranked in a cycle (A > B > C > A); no reward "
                "model can satisfy all of their labels",
                score=min(1.0, len(found) / max(1, len(index.keys)) * 50), evidence=ev,
                data={"cycles": len(found), "locations": where})
    return [f], {"intransitive_cycles": len(found)}


def confounds(loaded, cfg) -> tuple[list[Finding], dict[str, Any], list[str]]:
    """For each style feature: among pairs whose replies differ in it, the share where the chosen one has more.

    Under no confound that share is 50%. The share, its Wilson CI and a two-sided exact binomial p-value (Holm-
    corrected over the features) are reported; fewer than `min_pairs_for_stats` differing pairs: not computable.
    """
    from scipy.stats import binomtest

    rows: list[tuple] = []
    notes: list[str] = []
    metrics: dict[str, Any] = {}
    more: dict[str, list[int]] = {}
    for name, (fn, says) in STYLE_FEATURES.items():
        k = n = 0
        more[name] = []
        for i, e in enumerate(loaded.examples):
            c, r = float(fn(e["chosen"])), float(fn(e["rejected"]))
            if c != r:
                n += 1
                k += c > r
                if c > r:
                    more[name].append(i)
        if n < cfg.min_pairs_for_stats:
            reason = f"only {n} pairs differ in {name}; need {cfg.min_pairs_for_stats}"
            metrics[f"confound/{name}"] = {"share_chosen_more": None, "pairs_differing": n, "reason": reason}
            notes.append(f"confound '{name}' not computable: {reason}")
            continue
        share, lo, hi = wilson_ci(k, n)
        p = binomtest(k, n, 0.5).pvalue
        rows.append((name, says, k, n, share, lo, hi, p))
        metrics[f"confound/{name}"] = {"share_chosen_more": share, "ci": [lo, hi], "pairs_differing": n, "p_value": p}
    rejected = holm_bonferroni([r[-1] for r in rows], cfg.alpha) if rows else []
    findings = []
    for (name, says, k, n, share, lo, hi, p), sig in zip(rows, rejected):
        metrics[f"confound/{name}"]["significant"] = sig
        if not sig:
            continue
        size = abs(share - 0.5)
        sev = (Severity.HIGH if size >= cfg.confound_effect_high else
               Severity.MEDIUM if size >= cfg.confound_effect_medium else Severity.LOW)
        direction = "" if share > 0.5 else f" (so the rejected reply {says} more often)"
        findings.append(Finding(
            f"confound-{name}", sev,
            f"the chosen reply {says} in {share:.0%} of the {n} pairs that differ in it{direction} (95% CI "
            f"{lo:.0%}-{hi:.0%}, p = {p:.2g}); a reward model trained on this data can learn '{name}' as a shortcut",
            score=min(1.0, 2 * size), confidence=1 - p,
            effect=Effect(f"share of pairs where chosen {says}", share, lo, hi),
            evidence=[f"{pair_location(loaded, i)}: chosen '{short(loaded.examples[i]['chosen'], 50)}' vs rejected "
                      f"'{short(loaded.examples[i]['rejected'], 50)}'" for i in more[name][: cfg.max_evidence]],
            data={"feature": name, "pairs_differing": n, "chosen_more": k, "p_value": p,
                  "locations_chosen_more": [loaded.origins[i] for i in more[name]]}))
    return findings, metrics, notes


def label_noise(loaded, reference, cfg) -> tuple[list[Finding], dict[str, Any]]:
    """Share of pairs a reference reward model ranks the other way (ties counted apart)."""
    from ...models import as_reward_fn

    rf = as_reward_fn(reference)
    prompts = [pair_prompt(e) for e in loaded.examples]
    rc = rf(prompts, [e["chosen"] for e in loaded.examples])
    rr = rf(prompts, [e["rejected"] for e in loaded.examples])
    n = len(rc)
    flips = [i for i in range(n) if rr[i] > rc[i]]
    ties = sum(1 for i in range(n) if rr[i] == rc[i])
    rate, lo, hi = wilson_ci(len(flips), n)
    metrics = {"label_noise": {"disagreement_rate": rate, "ci": [lo, hi], "ties": ties, "reference": rf.name}}
    sev = Severity.MEDIUM if rate >= 0.4 else Severity.LOW if rate >= 0.25 else Severity.INFO
    flips.sort(key=lambda i: rc[i] - rr[i])
    f = Finding("label-noise", sev,
                f"the reference reward model '{rf.name}' prefers the rejected reply in {rate:.0%} of {n} pairs "
                f"(95% CI {lo:.0%}-{hi:.0%}; {ties} ties): an upper bound on label noise, since the reference errs too",
                score=rate, effect=Effect("reference disagreement rate", rate, lo, hi),
                evidence=[f"{pair_location(loaded, i)}: margin {rc[i] - rr[i]:.3g}, chosen "
                          f"'{short(loaded.examples[i]['chosen'], 50)}'" for i in flips[: cfg.max_evidence]],
                data={"disagreeing": [loaded.origins[i] for i in flips]})
    return [f], metrics


def check_preferences(dataset: DataSource, cfg: ConsistencyConfig | None = None,
                      reference_reward: RewardSource | None = None) -> Report:
    """Run every preference-data check over `dataset` (file, list of dicts, Dataset or `Loaded`) -> Report."""
    cfg = cfg or ConsistencyConfig()
    loaded = load_pairs(dataset, cfg.strict)
    index = index_pairs(loaded.examples)
    findings = data_findings(loaded)
    metrics: dict[str, Any] = {"pairs": len(loaded), "rows_skipped": len(loaded.skipped)}
    notes: list[str] = []
    if loaded.skipped:
        notes.append(f"{len(loaded.skipped)} invalid rows were left out of the checks (see the invalid-rows finding)")
    cov = coverage(len(loaded), loaded.rows_read, len(loaded.skipped), min_graded=MIN_GRADED, what="rows")
    if not cov.conclusive:
        findings.append(inconclusive_finding("preference-data", cov, "the statistical checks (confounds) need "
                                             f"at least {MIN_GRADED} valid pairs"))
    for check in (duplicates, identical_replies, cycles):
        f, m = check(loaded, index, cfg)
        findings += f
        metrics.update(m)
    f, m, n = confounds(loaded, cfg)
    findings += f
    metrics.update(m)
    notes += n
    if reference_reward is not None:
        f, m = label_noise(loaded, reference_reward, cfg)
        findings += f
        metrics.update(m)
    else:
        metrics["label_noise"] = None
        notes.append("label noise not computable: no reference reward model given")
    findings.sort(key=lambda f: -f.severity.rank)
    return Report("preference-consistency", f"preference-data checks: {loaded.source}", findings, metrics,
                  config={"source": loaded.source, "near_duplicate_jaccard": cfg.near_duplicate_jaccard,
                          "min_pairs_for_stats": cfg.min_pairs_for_stats, "alpha": cfg.alpha}, notes=notes)
