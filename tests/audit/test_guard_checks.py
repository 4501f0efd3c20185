"""Training-run checks: planted reward hacking, over-optimisation and instabilities are found at the right step;
a healthy log raises nothing above info; bad logs get clear messages."""

from __future__ import annotations

import json
import math

import pytest
from consistency_logs import flat_gold_log, ppo_log, saturated_proxy_log

from sentinel import RLHFConsistencyChecker
from sentinel.errors import DataError
from sentinel.report import Severity


def _write(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _ids(report):
    return {f.id: f for f in report.findings}


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_healthy_log_raises_nothing_above_info(seed):
    report = RLHFConsistencyChecker(kl_target=6.0).check_training(ppo_log(seed=seed))
    assert report.at_or_above("low") == []
    assert report.metrics["checks"]["length-hacking"] == "ok"
    assert report.metrics["length_share_of_gain"] < 0.5  # reward rose, but not with length


@pytest.mark.parametrize("onset,every", [(20, 1), (35, 10)])
def test_length_hacking_is_found_at_the_step_it_began(onset, every):
    rows = ppo_log(n=60, hacking=True, onset=onset, every=every)
    report = RLHFConsistencyChecker().check_training(rows)
    f = _ids(report)["length-hacking"]
    assert f.severity >= Severity.MEDIUM
    planted = (onset + 1) * every  # the first logged step at which length starts to grow
    assert planted - every <= f.data["step"] <= planted + 2 * every
    assert f.data["share_of_gain"] > 0.8 and f.effect.value > 0.9
    assert f"step {f.data['step']}" in f.description


@pytest.mark.parametrize("seed", range(5))
def test_length_hacking_that_reaches_the_length_cap_early_is_still_found(seed):
    """The GRPO shape: replies grow to the generation cap over the first sixth of the run, the reward follows them
    up and then sits on its plateau with noise for the rest. The reward rose (by far more than its noise) even
    though it is flat over most of the run."""
    import numpy as np

    rng = np.random.default_rng(seed)
    rows = ppo_log(n=150, seed=seed)
    for i, r in enumerate(rows):
        length = min(47.0, 10 + 1.5 * i) + float(rng.normal(0, 0.6))
        r["response_length/mean"] = length
        r["objective/scores"] = -0.3 + 0.1 * (length - 10) + float(rng.normal(0, 0.3))
        r["objective/rlhf_reward"] = r["objective/scores"] - 0.05 * r["objective/kl"]
    report = RLHFConsistencyChecker().check_training(rows)
    assert report.metrics["reward_gain"] > 1
    f = _ids(report)["length-hacking"]
    assert f.severity >= Severity.MEDIUM and f.data["share_of_gain"] > 0.8
    assert f.data["step"] <= 25  # the growth began at the first step; the cap was reached by the 26th


def test_growing_kl_above_target_is_an_alarm_only_with_a_target():
    rows = ppo_log(hacking=True)
    with_target = _ids(RLHFConsistencyChecker(kl_target=1.0).check_training(rows))
    kl = with_target["kl-above-target"]
    first = next(r["step"] for r in rows if r["objective/kl"] > 1.5)
    assert kl.data["step"] == first
    without = RLHFConsistencyChecker().check_training(rows)
    assert "kl-above-target" not in _ids(without)
    assert without.metrics["kl_above_target"].startswith("not computable")


def test_over_optimisation_names_the_gold_peak_and_sqrt_kl():
    rows = ppo_log(over_opt=True, onset=25)
    report = RLHFConsistencyChecker().check_training(rows)
    f = _ids(report)["over-optimisation"]
    assert f.severity == Severity.HIGH
    assert 24 <= f.data["step"] <= 30  # gold peaks at the 26th logged step, seen through a short trailing mean
    assert f.data["sqrt_kl_at_end"] > f.data["sqrt_kl_at_gold_peak"] > 0
    assert "length-hacking" not in _ids(report)  # the proxy rose without length


def test_over_optimisation_peak_is_a_full_window_not_a_lucky_first_batch():
    rows = ppo_log(over_opt=True, onset=25)
    rows[0]["gold/score"] = 2.0  # one noisy first batch, far above the real peak (about 1.0 at step 26)
    f = _ids(RLHFConsistencyChecker().check_training(rows))["over-optimisation"]
    assert 24 <= f.data["step"] <= 30, f.description
    assert "its mean over 6 steps at the peak" in f.description


@pytest.mark.parametrize("n", [10, 20, 40])
def test_noisy_flat_gold_is_rarely_called_over_optimisation(n):
    """Gold is flat noise (32-sample batches: about 0.15) while the proxy rises. The gold peak is the highest of many
    windows, so a dip after a lucky window is expected; the check must say over-optimisation for at most 1 in 10 such
    runs (6 of 120 over these seeds: benchmarks/overopt_false_alarms.py), also in a run of ten steps, where a
    one-step window once made the noise estimate vanish and every dip an alarm."""
    alarms = sum("over-optimisation" in _ids(RLHFConsistencyChecker().check_training(flat_gold_log(n, seed)))
                 for seed in range(40))
    assert alarms <= 4, f"{alarms} of 40 noise runs called over-optimisation"


def test_gold_falling_while_the_proxy_sits_on_its_plateau_is_over_optimisation():
    """The shape of a GRPO run against the lab's biased reward model (proxy +0.06 -> +3.42, gold 0.633 -> 0.338):
    the policy saturates the reward model early, then drifts along the proxy's plateau while gold falls. The proxy
    no longer climbs after the gold peak, so a check that asks for a rising proxy there stays silent; the guard
    must call it over-optimisation, on every seed."""
    for seed in range(10):
        ids = _ids(RLHFConsistencyChecker().check_training(saturated_proxy_log(seed, gold_falls=True)))
        assert "over-optimisation" in ids, (seed, sorted(ids))
        assert ids["over-optimisation"].severity == Severity.HIGH


def test_flat_gold_under_a_saturated_proxy_is_rarely_over_optimisation():
    """The same runs with flat gold: at most 1 in 10 called over-optimisation (the gold fall's standard errors decide,
    whatever the proxy does; 15 of these 400: benchmarks/overopt_false_alarms.py)."""
    alarms = sum("over-optimisation" in _ids(RLHFConsistencyChecker().check_training(
        saturated_proxy_log(seed, gold_falls=False))) for seed in range(400))
    assert alarms <= 40, f"{alarms} of 400 noise runs called over-optimisation"


def test_proxy_and_gold_falling_together_is_not_over_optimisation():
    """A run whose proxy falls back with gold after both peaked is collapsing (a learning rate too high, a broken
    update), not over-optimising the proxy."""
    import numpy as np

    rng = np.random.default_rng(0)
    rows = ppo_log(n=60)
    for i, r in enumerate(rows):
        shape = 0.04 * min(i, 25) - 0.05 * max(0, i - 25)
        r["objective/scores"] = 0.5 + 2 * shape + float(rng.normal(0, 0.05))
        r["gold/score"] = shape + float(rng.normal(0, 0.02))
    assert "over-optimisation" not in _ids(RLHFConsistencyChecker().check_training(rows))


def test_gold_falling_at_a_flat_proxy_is_a_gold_decline_not_silence():
    rows = ppo_log(n=40)
    for r in rows:  # the proxy stays flat; gold slides from about 0.6 to 0.0
        r["objective/scores"] = 0.9 + 0.01 * ((r["step"] * 7) % 5 - 2)
        r["gold/score"] = 0.6 - 0.015 * r["step"] + 0.02 * ((r["step"] * 3) % 5 - 2)
    ids = _ids(RLHFConsistencyChecker().check_training(rows))
    f = ids["gold-decline"]
    assert f.severity == Severity.MEDIUM and f.data["fall"] > 0.4
    assert "over-optimisation" not in ids  # the proxy did not rise: not that pattern


@pytest.mark.parametrize("seed", range(5))
def test_no_gold_decline_when_gold_holds_or_the_proxy_rises(seed):
    import numpy as np

    rng = np.random.default_rng(seed)
    flat = ppo_log(n=40, seed=seed)
    for r in flat:  # flat, noisy gold and proxy (32-sample batches: noise about 0.15)
        r["gold/score"] = 0.4 + float(rng.normal(0, 0.15))
        r["objective/scores"] = 0.9 + float(rng.normal(0, 0.15))
    assert "gold-decline" not in _ids(RLHFConsistencyChecker().check_training(flat))
    over = _ids(RLHFConsistencyChecker().check_training(ppo_log(over_opt=True, onset=25, seed=seed)))
    assert "over-optimisation" in over and "gold-decline" not in over
    assert "gold-decline" not in _ids(RLHFConsistencyChecker().check_training(ppo_log(seed=seed)))


def test_instabilities_negative_kl_nan_ratio_clipfrac_entropy():
    rows = ppo_log(n=40)
    for r in rows:
        if r["step"] >= 12:
            r["objective/kl"] = -0.3
        if r["step"] == 20:
            r["policy/clipfrac_avg"] = 0.45
        if r["step"] >= 25:
            r["objective/entropy"] = 0.1
        if r["step"] == 30:
            r["val/ratio"] = 14.0
        if r["step"] >= 33:
            r["loss/value_avg"] = float("nan")
    found = _ids(RLHFConsistencyChecker().check_training(rows))
    assert found["kl-negative"].data["step"] == 12 and found["kl-negative"].severity == Severity.HIGH
    assert found["clipfrac-spike"].data["step"] == 20
    assert found["entropy-collapse"].data["step"] == 25
    assert found["importance-ratio"].data["step"] == 30 and found["importance-ratio"].severity == Severity.HIGH
    nf = found["non-finite"]
    assert nf.severity == Severity.CRITICAL and nf.data["step"] == 33 and "loss/value_avg" in nf.description


def test_value_loss_spike_is_found():
    rows = ppo_log(n=30)
    rows[17]["loss/value_avg"] = 5.0
    f = _ids(RLHFConsistencyChecker().check_training(rows))["value-loss-spike"]
    assert f.data["step"] == 18


def test_reads_metrics_jsonl_trainer_state_and_a_trainer(tmp_path):
    rows = ppo_log(hacking=True)
    from_file = RLHFConsistencyChecker().check_training(_write(tmp_path / "metrics.jsonl", rows))
    from_dir = RLHFConsistencyChecker().check_training(tmp_path)
    (tmp_path / "state").mkdir()
    (tmp_path / "state" / "trainer_state.json").write_text(json.dumps({"log_history": rows}))
    from_state = RLHFConsistencyChecker().check_training(tmp_path / "state")

    class FakeTrainer:
        class state:
            log_history = rows

    from_trainer = RLHFConsistencyChecker().check_training(FakeTrainer())
    for rep in (from_file, from_dir, from_state, from_trainer):
        assert _ids(rep)["length-hacking"].data["step"] == _ids(from_file)["length-hacking"].data["step"]


def test_malformed_line_is_named(tmp_path):
    p = tmp_path / "metrics.jsonl"
    p.write_text('{"step": 1, "objective/kl": 0.1}\n{"step": 2, "objective/kl": 0.2\n')
    with pytest.raises(DataError, match=r"metrics.jsonl, line 2: invalid JSON"):
        RLHFConsistencyChecker().check_training(p)


def test_non_numeric_metric_and_missing_step_are_named(tmp_path):
    rows = ppo_log(n=5)
    rows[3]["objective/kl"] = "high"
    with pytest.raises(DataError, match=r"line 4, field 'objective/kl': expected a number"):
        RLHFConsistencyChecker().check_training(_write(tmp_path / "a.jsonl", rows))
    rows = ppo_log(n=5)
    del rows[2]["step"]
    with pytest.raises(DataError, match=r"line 3, field 'step': missing 'step'"):
        RLHFConsistencyChecker().check_training(_write(tmp_path / "b.jsonl", rows))


def test_empty_and_unrelated_logs_get_clear_messages(tmp_path):
    (tmp_path / "empty.jsonl").write_text("")
    with pytest.raises(DataError, match="empty"):
        RLHFConsistencyChecker().check_training(tmp_path / "empty.jsonl")
    with pytest.raises(DataError, match="empty"):
        RLHFConsistencyChecker().check_training([])
    with pytest.raises(DataError, match=r"none of the training metrics .* \(found: epoch, loss, step\)"):
        RLHFConsistencyChecker().check_training([{"step": 1, "loss": 0.5, "epoch": 0.1}])


def test_short_log_reports_not_computable_never_zero():
    report = RLHFConsistencyChecker().check_training(ppo_log(n=5, hacking=True, onset=0))
    checks = report.metrics["checks"]
    assert checks["length-hacking"].startswith("not computable: 5 steps")
    assert checks["entropy-collapse"].startswith("not computable")
    assert "length_share_of_gain" not in report.metrics
    assert any("length-hacking: not computable" in n for n in report.notes)
    # a log without a gold reward says so instead of reporting zero over-optimisation
    rows = [{k: v for k, v in r.items() if k != "gold/score"} for r in ppo_log()]
    rep = RLHFConsistencyChecker().check_training(rows)
    assert rep.metrics["checks"]["over-optimisation"] == (
        "not computable: no gold reward in the log "
        "(looked for 'gold/score' / 'rewards/gold/mean' / 'gold_reward' / 'eval/gold')")
    assert "gold_fall_after_peak" not in rep.metrics


def test_report_saves_and_cli_exit_codes(tmp_path):
    from sentinel.cli import main

    hack = _write(tmp_path / "hack.jsonl", ppo_log(hacking=True))
    healthy = _write(tmp_path / "ok.jsonl", ppo_log())
    assert main(["audit", "training", str(hack), "--out", str(tmp_path / "rep")]) == 1
    saved = json.loads((tmp_path / "rep" / "report.json").read_text())
    assert saved["findings"][0]["id"] == "length-hacking" and saved["findings"][0]["data"]["step"] == 21
    assert main(["audit", "training", str(healthy), "--kl-target", "6"]) == 0
    assert main(["audit", "training", str(hack), "--fail-on", "critical"]) == 0
    bad = tmp_path / "bad.jsonl"
    bad.write_text("{oops\n")
    assert main(["audit", "training", str(bad)]) == 2


def test_nan_values_written_by_json_are_kept_as_nan(tmp_path):
    rows = ppo_log(n=12)
    text = "".join(json.dumps(r) + "\n" for r in rows)
    text = text.replace('"loss/value_avg": 0.', '"loss/value_avg": NaN, "x": 0.', 1)
    (tmp_path / "m.jsonl").write_text(text)
    f = _ids(RLHFConsistencyChecker().check_training(tmp_path / "m.jsonl"))["non-finite"]
    assert f.data["step"] == 1 and math.isfinite(f.data["step"])


@pytest.mark.parametrize("name",
                         __import__("sentinel.audit.guard.checks", fromlist=["x"]).TRAINING_CHECKS.names())
def test_every_registered_training_check_keeps_the_contract(name):
    """Each check: a docstring, a status that is ok / alarm / 'not computable: <reason>', findings with a step."""
    from sentinel.audit.consistency.thresholds import ConsistencyConfig
    from sentinel.audit.guard.checks import TRAINING_CHECKS
    from sentinel.audit.guard.series import read_training_log

    check = TRAINING_CHECKS.get(name)
    assert check.__doc__ and check.id == name
    cfg = ConsistencyConfig(kl_target=1.0)
    for rows in (ppo_log(), ppo_log(hacking=True, over_opt=True), ppo_log(n=3), [{"step": 1, "objective/kl": 0.1}]):
        result = check().run(read_training_log(rows), cfg)
        assert result.status in ("ok", "alarm") or result.status.startswith("not computable: ")
        assert (result.status == "alarm") == bool(result.findings)
        for f in result.findings:
            assert isinstance(f.data["step"], (int, float)) and f.severity > Severity.INFO


def test_config_errors_name_the_field():
    from sentinel.errors import ConfigError

    with pytest.raises(ConfigError, match="kl_target"):
        RLHFConsistencyChecker(kl_target=-1)
    with pytest.raises(ConfigError, match="min_steps"):
        RLHFConsistencyChecker(min_steps=2)
    with pytest.raises(ConfigError, match="kl_targt"):
        RLHFConsistencyChecker(kl_targt=1.0)
    with pytest.raises(ConfigError, match="unknown training check 'lenght-hacking'. did you mean 'length-hacking'"):
        RLHFConsistencyChecker().check_training(ppo_log(), checks=["lenght-hacking"])


def test_a_log_where_no_check_can_run_is_inconclusive_not_clean():
    from sentinel.audit.consistency import RLHFConsistencyChecker

    rows = [{"step": s, "objective/scores": 0.1 * s, "objective/kl": 0.01 * s} for s in (1, 2, 3)]
    report = RLHFConsistencyChecker().check_training(rows)
    assert [f.id for f in report.findings] == ["inconclusive"] and report.exit_code("medium") == 1
    assert "none of the" in report.findings[0].description


def test_scattered_negative_kl_with_a_dip_at_the_last_step_is_not_a_broken_estimate():
    # The KL of a PPO run against gold in the lab, as logged over its first 10 steps: estimator noise around 0 with
    # three dips, the third at the step a live check runs at. A note (low), not a broken estimate (high), which with
    # `stop_on="high"` would stop a healthy run.
    kls = [-0.0, -0.0619, 0.0575, 0.0739, -0.0557, 0.0257, 0.0187, 0.107, 0.0718, -0.1197]
    rows = ppo_log(n=len(kls))
    for r, kl in zip(rows, kls):
        r["objective/kl"] = kl
    found = _ids(RLHFConsistencyChecker().check_training(rows))
    assert found["kl-negative"].severity < Severity.HIGH and found["kl-negative"].data["count"] == 3
    # the same dips held for three logged steps at the end: the running mean stays negative
    rows = ppo_log(n=len(kls) + 2)
    for r, kl in zip(rows, kls + [-0.2, -0.2]):
        r["objective/kl"] = kl
    assert _ids(RLHFConsistencyChecker().check_training(rows))["kl-negative"].severity == Severity.HIGH
