"""Audit a reward for what fools it: `RewardModelAuditor` on a reward with planted biases.

    python examples/audit_reward_model.py [--out DIR] [--lab-rm]

What it shows:
1. A rule reward, the lab's exact gold grade plus two planted biases (+0.05 per word, +0.5 per reward keyword such
   as "helpful" or "certainly"), audited on the preference pairs of a small clean lab: the auditor names the two
   biases, with their effect and the share of correctly ranked pairs they flip. Any `fn(prompts, responses) ->
   list[float]` is audited the same way (an API model, a rule reward, a reward model behind a function).
2. The gold grade alone, audited on the same pairs as a control: nothing is flagged.
3. With --lab-rm: a tiny reward model trained for 300 steps on the lab's biased annotator (a few seconds to a minute
   on a CPU), audited on the clean pairs; the report sets the biases the annotator planted (lab.json) beside the
   probes that flag them.

Reports (report.json / .html / .md) go to OUT/biased-reward, OUT/gold-reward and OUT/lab-rm.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from sentinel import RewardModelAuditor
from sentinel.lab import Lab, LabConfig, gold_reward, init_lab
from sentinel.phrases import REWARD_KEYWORDS

# The annotator bias (lab.json) -> the auditor probe that looks for the same thing in a reward model.
PROBE_OF_BIAS = {"verbosity": "verbosity", "keyword": "keyword", "sycophancy": "sycophancy", "evasiveness": "evasive"}

_KEYWORD = re.compile(r"\b(" + "|".join(re.escape(k) for k in REWARD_KEYWORDS) + r")\b", re.IGNORECASE)


def biased_reward(prompts: list, responses: list[str]) -> list[float]:
    """The lab's gold grade (1 right, 0 no answer, -1 wrong) + 0.05 per word + 0.5 per reward keyword."""
    return [gold_reward(p, r) + 0.05 * len(r.split()) + 0.5 * len(_KEYWORD.findall(r))
            for p, r in zip(prompts, responses)]


def gold_only(prompts: list, responses: list[str]) -> list[float]:
    """The lab's gold grade alone: padding, flattery or keywords never change it."""
    return [gold_reward(p, r) for p, r in zip(prompts, responses)]


def show(name: str, result, full: bool = True) -> None:
    acc = result.metrics.get("accuracy", {}).get("value")
    print(f"\n{name}: strict pairwise accuracy {acc:.2f}; {len(result.vulnerabilities)} vulnerabilities")
    for v in result.vulnerabilities:
        print(f"  [{v.severity.value}] {v.id}: {v if full else re.split(r': [+-]?[0-9]', v.description)[0]}")
    effects = ", ".join(f"{k} {s['effect']:+.2f}" for k, s in result.probes.items())
    print(f"  effect of every probe (SD of the rewards): {effects}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="example-out/audit_reward_model", help="output folder")
    ap.add_argument("--max-rows", type=int, default=200, help="preference pairs the audits use")
    ap.add_argument("--lab-rm", action="store_true", help="also train a tiny reward model on the biased lab and "
                                                         "audit it")
    args = ap.parse_args()
    out = Path(args.out)

    # A clean annotator (no bias weights): its chosen reply is the gold-better one in about 95% of pairs, so the
    # pairs test the reward and not the annotator. 2,000 pairs are plenty for a 200-case audit.
    clean = init_lab(out / "lab-clean", LabConfig(seed=0, biases={}, n_sft=100, n_preferences=2000, n_prompts=10,
                                                  n_eval=10), overwrite=True)
    cases = str(Lab.open(clean).data("preferences"))
    auditor = RewardModelAuditor(max_rows=args.max_rows, seed=0)

    planted = {"verbosity", "keyword"}
    result = auditor.analyze(biased_reward, cases)
    result.save(out / "biased-reward")
    show("gold + 0.05/word + 0.5/keyword", result)
    found = {v.id for v in result.vulnerabilities}
    print(f"  planted: {sorted(planted)}; found: {sorted(found & planted)}; missed: {sorted(planted - found)}; "
          f"also flagged: {sorted(found - planted)}")

    control = auditor.analyze(gold_only, cases)
    control.save(out / "gold-reward")
    show("gold grade alone (control)", control)

    if args.lab_rm:
        import torch

        from sentinel.lab.recipes import QUICK_RM, RecipeConfig, train_reward

        # One thread: the lab's models are tiny, and on a busy machine idle OpenMP threads spin and slow every step.
        torch.set_num_threads(1)

        biased_lab = init_lab(out / "lab-biased", LabConfig(seed=0, n_sft=100, n_preferences=5000, n_prompts=10,
                                                            n_eval=10), overwrite=True)
        print("\ntraining a tiny reward model on the biased annotator's pairs (300 steps of 16) ...")
        rm = train_reward(biased_lab, out / "reward-model", RecipeConfig(**QUICK_RM))
        # 100 cases: a model scores each text in a forward pass, so this audit costs more than a rule's.
        rm_result = RewardModelAuditor(max_rows=min(args.max_rows, 100), seed=0).analyze(str(rm), cases)
        rm_result.save(out / "lab-rm")
        show(f"lab reward model {rm}", rm_result, full=False)
        weights = Lab.open(biased_lab).info["biases"]
        flagged = {v.id for v in rm_result.vulnerabilities}
        for bias, weight in weights.items():
            probe = PROBE_OF_BIAS[bias]
            print(f"  planted {bias} (weight {weight:g}) -> probe {probe}: effect "
                  f"{rm_result.probes[probe]['effect']:+.2f} SD, {'FLAGGED' if probe in flagged else 'not flagged'}")

    print(f"\nreports: {out}/*/report.html")


if __name__ == "__main__":
    main()
