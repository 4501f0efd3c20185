"""Training checks on GRPO / RLOO logs (TRL 1.16's metric names): the same alarms as for PPO, a watched reward
read as gold, the group-relative failure (no learning signal), and why the PPO-only metrics are absent."""

from __future__ import annotations

import pytest
from consistency_logs import grpo_log, ppo_log

from sentinel import RLHFConsistencyChecker
from sentinel.audit.guard import SentinelCallback


def _ids(report):
    return {f.id: f for f in report.findings}


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_healthy_grpo_log_raises_nothing_above_info(seed):
    report = RLHFConsistencyChecker().check_training(grpo_log(seed=seed, beta=0.04))
    assert report.at_or_above("low") == []
    checks = report.metrics["checks"]
    for name in ("length-hacking", "kl", "entropy-collapse", "over-optimisation", "no-learning-signal",
                 "clipfrac-spike"):
        assert checks[name] == "ok", (name, checks[name])


def test_grpo_length_hacking_and_over_optimisation_against_the_watched_reward():
    report = RLHFConsistencyChecker().check_training(grpo_log(hacking=True, over_opt=True, onset=20))
    found = _ids(report)
    assert 18 <= found["length-hacking"].data["step"] <= 24
    assert found["length-hacking"].data["length_key"] == "completions/mean_length"
    assert found["over-optimisation"].severity.value == "high"
    assert 17 <= report.metrics["gold_peak_step"] <= 24


def test_a_watched_reward_of_another_name_is_gold_only_when_named():
    rows = grpo_log(over_opt=True, gold_name="exact_match")
    status = RLHFConsistencyChecker().check_training(rows).metrics["checks"]["over-optimisation"]
    assert status.startswith("not computable") and "rewards/gold/mean" in status
    named = RLHFConsistencyChecker(gold_metric="rewards/exact_match/mean").check_training(rows)
    assert "over-optimisation" in _ids(named)


@pytest.mark.parametrize("share, fires", [(0.3, False), (0.95, True)])
def test_no_learning_signal_when_most_groups_score_alike(share, fires):
    rows = grpo_log(zero_std=0.2)
    for r in rows[30:]:
        r["frac_reward_zero_std"] = share
    found = _ids(RLHFConsistencyChecker().check_training(rows))
    assert ("no-learning-signal" in found) == fires
    if fires:
        assert 30 <= found["no-learning-signal"].data["step"] <= 34


def test_what_grpo_never_logs_is_said_with_the_reason():
    checks = RLHFConsistencyChecker().check_training(grpo_log(beta=0.0)).metrics["checks"]
    assert "beta" in checks["kl"] and "no KL penalty" in checks["kl"]
    assert "no value model" in checks["value-loss-spike"]
    assert "clip_ratio" in checks["importance-ratio"]
    # a PPO log lacks GRPO's zero-std share, and says so; its own missing metrics carry no GRPO reason
    ppo = RLHFConsistencyChecker().check_training(ppo_log()).metrics["checks"]
    assert ppo["no-learning-signal"].startswith("not computable") and "GRPO" in ppo["no-learning-signal"]
    no_kl = [{k: v for k, v in r.items() if k != "objective/kl"} for r in ppo_log()]
    assert "beta" not in RLHFConsistencyChecker().check_training(no_kl).metrics["checks"]["kl"]


def test_callback_on_a_trl_grpo_run_stops_at_over_optimisation():
    """TRL calls on_log with its logged dict; the callback stops the run through control.should_training_stop."""
    from transformers import TrainerControl, TrainerState

    guard = SentinelCallback(every_n_steps=5, stop_on="high")
    state, control = TrainerState(), TrainerControl()
    for row in grpo_log(n=60, over_opt=True, onset=20):
        state.global_step = row.pop("step")
        guard.on_log(None, state, control, logs=row)
        if control.should_training_stop:
            break
    assert guard.stopped_at is not None and 25 <= guard.stopped_at <= 45
    assert any(f.id == "over-optimisation" for f in guard.alarms)


@pytest.mark.parametrize("jump, fires", [(0.054, False), (0.25, True)])
def test_a_clip_ratio_jump_is_an_alarm_only_when_it_is_large(jump, fires):
    """Recorded on a healthy lab GRPO run: clip_ratio/region_mean idled near 0.008 and one batch clipped 5.4%."""
    rows = grpo_log(beta=0.04)
    rows[40]["clip_ratio/region_mean"] = jump
    found = _ids(RLHFConsistencyChecker().check_training(rows))
    assert ("clipfrac-spike" in found) == fires
    if fires:
        assert found["clipfrac-spike"].data["step"] == 41
