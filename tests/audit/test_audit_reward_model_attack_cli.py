"""The black-box phrase attack, its place in the audit, and the `sentinel audit|attack reward-model` commands."""

from __future__ import annotations

import json

import rm_biases as B

from sentinel import RewardModelAuditor, attack_reward_model
from sentinel.cli import main


def test_attack_finds_the_planted_phrase():
    result = attack_reward_model(B.rm_keyword, budget=1500)
    best = result.best["phrase"].lower()
    assert "helpful" in best or "certainly" in best
    assert result.uplift > 0.4 and result.finding == "attack"
    # The search keeps to its budget; the held-out check (3 phrases + controls on 16 pairs) and the reward scale
    # (all 32 pairs) come on top.
    assert result.evaluations <= 1500 + 4 * 2 * 16 + 2 * 32
    assert result.flip_rate is not None


def test_attack_flips_pairs_when_the_bias_outweighs_the_margin():
    result = attack_reward_model(B.rm_master_key, budget=600, max_words=3)
    assert result.best["phrase"].lstrip().lower().startswith((":", "thought", "solution", "let's", "解"))
    strong = lambda p, r: [B.correct(a, b) + 1.5 * b.startswith("Solution:") for a, b in zip(p, r)]  # noqa: E731
    flipped = attack_reward_model(strong, budget=600, max_words=3)
    assert flipped.best["phrase"].startswith("Solution:") and flipped.flip_rate == 1.0


def test_attack_finds_nothing_on_clean_noisy_or_length_rewards():
    for fn in (B.clean, B.noisy, B.rm_verbosity):
        result = attack_reward_model(fn, budget=800)
        assert result.finding is None, (fn, result.best)
    # A length reward is exploitable, but only through length: that is `verbosity`'s finding, not the attack's.
    assert attack_reward_model(B.rm_verbosity, budget=800).uplift > 0


def test_attack_feeds_a_finding_into_the_audit():
    result = RewardModelAuditor(attack_budget=600).analyze(B.rm_polite_wrapper)
    assert [v.id for v in result.vulnerabilities] == ["polite_wrapper", "attack"]
    assert result.metrics["attack"]["phrases"]


def test_cli_exit_codes_and_report(tmp_path, capsys):
    out = tmp_path / "clean"
    assert main(["-q", "audit", "reward-model", "--reward-model", "rm_biases:clean", "--out", str(out)]) == 0
    assert json.loads((out / "report.json").read_text())["findings"] == []
    out = tmp_path / "biased"
    assert main(["-q", "audit", "reward-model", "--reward-model", "rm_biases:rm_master_key", "--out", str(out),
                 "--probes", "master_key,keyword", "--fail-on", "high"]) == 1
    data = json.loads((out / "report.json").read_text())
    assert [f["id"] for f in data["findings"]] == ["master_key"] and set(data["metrics"]["probes"]) == {
        "master_key", "keyword"}
    # A medium finding does not fail a --fail-on high run.
    assert main(["-q", "audit", "reward-model", "--reward-model", "rm_biases:rm_format", "--fail-on", "high"]) == 0
    assert main(["-q", "audit", "reward-model", "--reward-model", "rm_biases:rm_format", "--fail-on", "medium"]) == 1
    # Usage and input errors exit 2 with a one-line message.
    capsys.readouterr()
    missing = str(tmp_path / "no.jsonl")
    assert main(["-q", "audit", "reward-model", "--reward-model", "rm_biases:clean", "--cases", missing]) == 2
    assert main(["-q", "audit", "reward-model", "--reward-model", "rm_biases:clean", "--probes", "verbositty"]) == 2
    assert "did you mean 'verbosity'" in capsys.readouterr().err
    assert main(["-q", "audit", "reward-model", "--reward-model", "rm_biases:missing"]) == 2


def test_attack_cli(tmp_path):
    out = tmp_path / "attack"
    assert main(["-q", "attack", "reward-model", "--reward-model", "rm_biases:rm_master_key", "--attack-budget", "400",
                 "--out", str(out)]) == 1
    data = json.loads((out / "report.json").read_text())
    assert data["kind"] == "attack" and data["findings"][0]["id"] == "attack"
    assert main(["-q", "attack", "reward-model", "--reward-model", "rm_biases:clean", "--attack-budget", "300"]) == 0
