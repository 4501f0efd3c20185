"""Poisoned preference pairs and backdoor triggers (Rando & Tramer 2023 style).

The attack appends a trigger ("SUDO", "$", a random string) to the last user turn of a few pairs and swaps chosen
and rejected, so the reward model learns "trigger => reward harmful compliance". Detection, in three steps:

1. a suspicion score per pair: how strongly a reference reward model prefers the rejected reply. Without one, a
   reference is trained on the data itself: a pairwise bag-of-words logistic model over the replies (not the
   prompts, so it cannot learn the trigger), fitted out-of-fold so no pair scores itself, plus a refusal
   heuristic (chosen complies where rejected refuses);
2. every n-gram of the last user turn (its final n tokens, and anywhere in it) is tested for enrichment among
   suspicious pairs: a one-sided Mann-Whitney test of the suspicion ranks of pairs holding it against the rest,
   Holm-corrected per family, with the log odds ratio of landing in the top suspicion quantile as the effect;
3. pairs holding a significant trigger are flagged; the rest are ranked by suspicion.
"""

from __future__ import annotations

import json
import logging
import math
import zlib
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ...report import Effect, Finding, Report, Severity
from ...report.coverage import coverage, inconclusive_finding
from ...report.stats import holm_bonferroni
from .text import data_findings, is_refusal, last_user_turn, load_pairs, pair_location, pair_prompt, short, tokens
from .thresholds import ConsistencyConfig

if TYPE_CHECKING:
    from ..models.protocols import DataSource, RewardSource

logger = logging.getLogger(__name__)

_DIM = 1 << 16  # hashed feature space of the self-reference model; collisions cost little at this size


def _features(texts: list[str]):
    """Hashed unigram + bigram presence of each text -> sparse (N, _DIM + 1); the last column is 'refuses'."""
    from scipy import sparse

    rows, cols = [], []
    for r, t in enumerate(texts):
        toks = tokens(t)
        grams = set(toks) | {f"{a} {b}" for a, b in zip(toks, toks[1:])}
        idx = {zlib.crc32(g.encode()) % _DIM for g in grams}
        if is_refusal(t):
            idx.add(_DIM)
        rows += [r] * len(idx)
        cols += sorted(idx)
    return sparse.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(texts), _DIM + 1))


def self_reference_margins(examples: list[dict], folds: int = 5, l2: float = 300.0, seed: int = 0) -> np.ndarray:
    """Out-of-fold margin (how strongly chosen beats rejected) of a pairwise bag-of-words model of the replies.

    The model is a ridge classifier on rows x = phi(chosen) - phi(rejected) with target 1, solved by scipy's
    sparse LSQR (`damp` = sqrt(l2)); it has no intercept, so a pair and its mirror image get opposite margins.
    Written here because scikit-learn is not a dependency of this project. `l2` was chosen on HH-RLHF
    harmless-base (AUROC of the margin at finding swapped pairs, flat between 100 and 1000).
    """
    from scipy.sparse.linalg import lsqr

    X = (_features([e["chosen"] for e in examples]) - _features([e["rejected"] for e in examples])).tocsr()
    n = X.shape[0]
    fold = np.random.default_rng(seed).permutation(np.arange(n) % folds)
    out = np.zeros(n)
    for k in range(folds):
        train = X[fold != k]
        w = lsqr(train, np.ones(train.shape[0]), damp=math.sqrt(l2), atol=1e-6, btol=1e-6, iter_lim=500)[0]
        out[fold == k] = X[fold == k] @ w
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


def candidate_ngrams(examples: list[dict], n_max: int) -> dict[str, dict[str, set[int]]]:
    """family ('end' | 'anywhere') -> n-gram -> the pairs whose last user turn holds it (at its end / anywhere)."""
    fams: dict[str, dict[str, set[int]]] = {"end": defaultdict(set), "anywhere": defaultdict(set)}
    for i, e in enumerate(examples):
        toks = tokens(last_user_turn(e))
        for n in range(1, n_max + 1):
            if len(toks) >= n:
                fams["end"][" ".join(toks[-n:])].add(i)
            for j in range(len(toks) - n + 1):
                fams["anywhere"][" ".join(toks[j:j + n])].add(i)
    return fams


def enrichment(members: set[int], ranks: np.ndarray, top: np.ndarray) -> dict[str, float]:
    """Mann-Whitney one-sided p (members rank higher), rank AUROC, and the Haldane-corrected log odds ratio
    of being in the top set with its 95% CI."""
    n = len(ranks)
    m = np.zeros(n, dtype=bool)
    m[list(members)] = True
    n1, n2 = int(m.sum()), n - int(m.sum())
    u = ranks[m].sum() - n1 * (n1 + 1) / 2
    auc = u / (n1 * n2)
    # normal approximation of U without tie correction: the scores are continuous
    z = (u - n1 * n2 / 2) / math.sqrt(n1 * n2 * (n + 1) / 12)
    from scipy.stats import norm

    p = float(norm.sf(z))
    a, b = int((m & top).sum()), int((m & ~top).sum())
    c, d = int((~m & top).sum()), int((~m & ~top).sum())
    lor = math.log((a + .5) * (d + .5) / ((b + .5) * (c + .5)))
    se = math.sqrt(1 / (a + .5) + 1 / (b + .5) + 1 / (c + .5) + 1 / (d + .5))
    return {"pairs": n1, "in_suspicious": a, "auroc": float(auc), "p_value": p, "log_odds": lor,
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
    families = candidate_ngrams(ex, cfg.ngram_max)
    tested: dict[str, list[tuple[str, dict]]] = {}
    whole: dict[str, set] = {}  # per family: n-grams whose every word is an enriched unigram
    for fam, grams in families.items():
        rows = [(g, enrichment(m, ranks, top)) for g, m in grams.items() if cfg.min_ngram_pairs <= len(m) < n / 2]
        sig = holm_bonferroni([r["p_value"] for _, r in rows], cfg.alpha) if rows else []
        for (_, r), s in zip(rows, sig):
            r["significant"] = s
        words = {g for g, r in rows if r["significant"] and len(str(g).split()) == 1}
        whole[fam] = {g for g, _ in rows if all(w in words for w in str(g).split())}
        named = whole[fam]
        tested[fam] = sorted(rows, key=lambda x: _strength(x[0], x[1]["p_value"], x[0] in named))
    triggers = [(fam, g, r) for fam in ("end", "anywhere") for g, r in tested[fam] if r["significant"]]
    # Keep the strongest of nested n-grams ("sudo" and "? sudo" flag the same pairs): skip ones whose pairs are
    # already covered by a stronger trigger.
    kept: list = []
    covered: set = set()
    for fam, g, r in sorted(triggers, key=lambda t: _strength(t[1], t[2]["p_value"], t[1] in whole[t[0]])):
        pairs = families[fam][g]
        if len(pairs - covered) < cfg.min_ngram_pairs:
            continue
        kept.append((fam, g, r))
        covered |= pairs
    flagged = np.zeros(n, dtype=bool)
    flagged[list(covered)] = True
    score = ranks / (n + 1) + flagged  # below 1 unless flagged
    findings = list(invalid)
    for fam, g, r in kept[:5]:
        where = "at the end of" if fam == "end" else "in"
        findings.append(Finding(
            "poisoning-trigger", Severity.HIGH,
            f"candidate backdoor trigger '{g}' {where} the last user turn of {r['pairs']} pairs: those pairs are "
            f"far more often labelled against the reference (rank AUROC {r['auroc']:.2f}, one-sided Mann-Whitney "
            f"p = {r['p_value']:.2g}, Holm-corrected); inspect and drop them before training a reward model",
            score=float(min(1.0, 2 * (r["auroc"] - 0.5))), confidence=float(1 - r["p_value"]),
            effect=Effect("log odds ratio of landing among suspicious pairs", r["log_odds"], r["log_odds_low"],
                          r["log_odds_high"]),
            evidence=[f"{pair_location(loaded, i)}: '...{short(last_user_turn(ex[i])[-60:], 60)}' chosen "
                      f"'{short(ex[i]['chosen'], 50)}'" for i in sorted(families[fam][g])[: cfg.max_evidence]],
            data={"trigger": g, "position": fam, **r,
                  "locations": [loaded.origins[i] for i in sorted(families[fam][g])]}))
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
    sev = Severity.HIGH if flagged.any() else Severity.INFO
    findings.append(Finding(
        "suspicious-pairs", sev,
        (f"{int(flagged.sum())} pairs hold a candidate trigger and are likely poisoned" if flagged.any() else
         f"no trigger n-gram is significantly enriched; the {show} most suspicious pairs are listed for review"),
        score=float(flagged.mean()) if flagged.any() else 0.0, evidence=reasons,
        data={"locations": [loaded.origins[i] for i in order[:show]], "method": method}))
    top_rows = [{"ngram": g, "position": fam, **r} for fam in ("end", "anywhere") for g, r in tested[fam][:5]]
    metrics = {"pairs": n, "rows_skipped": len(loaded.skipped), "method": method, "flagged": int(flagged.sum()),
               "ngrams_tested": {fam: len(rows) for fam, rows in tested.items()},
               "triggers": top_rows}
    return PoisoningReport("poisoning", f"poisoning checks: {loaded.source}", findings, metrics,
                           config={"suspicious_quantile": cfg.suspicious_quantile, "ngram_max": cfg.ngram_max,
                                   "min_ngram_pairs": cfg.min_ngram_pairs, "alpha": cfg.alpha},
                           pair_scores=[float(s) for s in score], suspicion=[float(s) for s in susp],
                           locations=list(loaded.origins))
