"""SentinelCallback: raises the hacking alarm online and stops training on the chosen severity, through both the
transformers/TRL `on_log` path and our PPO's `on_step_end(trainer, step, stats)` path."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from consistency_logs import ppo_log

from sentinel import SentinelCallback
from sentinel.errors import ConfigError


def _trl_replay(cb, rows):
    """Feed rows to the callback the way transformers.Trainer does; returns the step it was stopped at."""
    from transformers import TrainerControl, TrainerState, TrainingArguments

    args = TrainingArguments(output_dir="unused", report_to=[], use_cpu=True)
    state, control = TrainerState(), TrainerControl()
    for r in rows:
        state.global_step = r["step"]
        control = cb.on_log(args, state, control, logs={k: v for k, v in r.items() if k != "step"})
        # transformers' own per-step hook shares the name with our PPO hook: it must pass through untouched
        assert cb.on_step_end(args, state, control) is control
        if control.should_training_stop:
            return r["step"]
    return None


def test_trl_path_raises_the_hacking_alarm_and_stops(caplog):
    cb = SentinelCallback(every_n_steps=5, stop_on="high")
    with caplog.at_level(logging.WARNING, logger="sentinel.audit.guard.callback"):
        stopped = _trl_replay(cb, ppo_log(n=60, hacking=True, onset=20))
    assert stopped is not None and 25 <= stopped <= 40  # the checks run every 5 logs; hacking began at step 21
    assert cb.stopped_at == stopped
    assert [f.id for f in cb.alarms][:1] == ["length-hacking"]
    assert 20 <= cb.alarms[0].data["step"] <= 24
    assert "length-hacking" in caplog.text


def test_healthy_run_is_not_stopped_and_warns_nothing(caplog):
    cb = SentinelCallback(every_n_steps=5, stop_on="medium", kl_target=6.0)
    with caplog.at_level(logging.WARNING):
        assert _trl_replay(cb, ppo_log(n=60)) is None
    assert cb.alarms == [] and cb.stopped_at is None
    assert cb.report is not None and cb.report.at_or_above("low") == []


class FakePPO:
    """Stands in for our PPOTrainer: the callback contract is on_step_end(trainer, step, stats)."""

    def __init__(self, target=None, target_kl=None, adap_kl_ctrl=True):
        self.stop_training = False
        self.config = type("Cfg", (), {"target": target, "target_kl": target_kl, "adap_kl_ctrl": adap_kl_ctrl})()


def test_ppo_path_stops_via_return_value_and_trainer_flag():
    cb = SentinelCallback(every_n_steps=1, stop_on="high")
    trainer = FakePPO()
    stopped = None
    for r in ppo_log(n=60, hacking=True, onset=20):
        stats = {k: v for k, v in r.items() if k != "step"}
        if cb.on_step_end(trainer, r["step"], stats):
            stopped = r["step"]
            break
    assert stopped is not None and trainer.stop_training is True
    assert 21 < stopped < 40 and cb.alarms[0].id == "length-hacking"


def test_alarms_are_dated_by_the_check_that_raised_them():
    # Checks every 7 steps: an alarm is raised at a check step, at or after the step its evidence names.
    cb = SentinelCallback(every_n_steps=7)
    for r in ppo_log(n=60, hacking=True, onset=20):
        cb.on_step_end(None, r["step"], {k: v for k, v in r.items() if k != "step"})
    first = cb.alarms[0]
    raised = cb.raised_at[first.id]
    assert raised % 7 == 0 and raised >= first.data["step"]
    assert set(cb.raised_at) == {a.id for a in cb.alarms}


def test_an_alarm_that_grows_more_severe_is_shown_at_the_severity_that_stopped_the_run():
    # A lab PPO run's KL with three scattered dips (a note, below high, at the checks of steps 5 and 10), then held
    # below 0 for the last steps: the final check finds the same alarm at high and stops the run on it.
    kls = [-0.0, -0.0619, 0.0575, 0.0739, -0.0557, 0.0257, 0.0187, 0.107, 0.0718, -0.1197, -0.2, -0.2]
    rows = ppo_log(n=len(kls))
    for r, kl in zip(rows, kls):
        r["objective/kl"] = kl
        r.pop("step")
    cb = SentinelCallback(every_n_steps=5, stop_on="high")
    cb.replay(rows[:10])
    assert [a.severity < "high" for a in cb.alarms if a.id == "kl-negative"] == [True]
    assert cb.stopped_at is None
    cb = SentinelCallback(every_n_steps=5, stop_on="high")
    cb.replay(rows)
    kl = [a for a in cb.alarms if a.id == "kl-negative"]
    assert len(kl) == 1 and kl[0].severity.value == "high"
    assert cb.raised_at["kl-negative"] == cb.stopped_at == 12


def test_ppo_path_reads_the_kl_targets_from_the_trainer_config():
    cb = SentinelCallback(every_n_steps=10)
    trainer = FakePPO(target=1.0, target_kl=0.005)
    for r in ppo_log(n=60, hacking=True):
        cb.on_step_end(trainer, r["step"], {k: v for k, v in r.items() if k != "step"})
    assert (cb.config.kl_target, cb.config.approxkl_target) == (1.0, 0.005)
    assert {"kl-above-target", "approxkl-above-target"} <= {f.id for f in cb.alarms}
    assert trainer.stop_training is False  # stop_on=None only warns
    fixed = SentinelCallback()
    fixed.on_step_end(FakePPO(target=1.0, adap_kl_ctrl=False), 1, {"objective/kl": 0.1})
    assert fixed.config.kl_target is None  # a fixed KL coefficient has no KL target


def test_recorded_ppo_metrics_file_replays_to_the_same_alarm(tmp_path):
    path = tmp_path / "metrics.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in ppo_log(n=60, hacking=True, onset=30)))
    cb = SentinelCallback(every_n_steps=3)
    for line in path.read_text().splitlines():
        row = json.loads(line)
        cb.on_step_end(None, row.pop("step"), row)
    cb.run_checks()
    assert cb.alarms[0].id == "length-hacking" and 30 <= cb.alarms[0].data["step"] <= 34


RECORDED = Path(__file__).resolve().parents[1] / "data" / "ppo_lab_gold_metrics.jsonl"


def _replay(rows, cb):
    for row in rows:
        row = dict(row)
        if cb.on_step_end(None, row.pop("step"), row):
            return
    cb.run_checks()


def test_recorded_lab_ppo_log_is_quiet_and_a_planted_hack_on_it_is_found():
    """RECORDED: 40 steps of our PPO (PPO branch b18891b) on the lab's SFT policy optimising the gold reward
    (batch 16, lr 1e-4, 48 new tokens). Real noise: reward flat, length 6-9 tokens, KL 0-0.7, value loss bumpy."""
    rows = [json.loads(line) for line in RECORDED.read_text().splitlines()]
    quiet = SentinelCallback(every_n_steps=5, stop_on="high")
    _replay(rows, quiet)
    assert not {f.id for f in quiet.alarms} & {"length-hacking", "over-optimisation"}
    assert quiet.stopped_at is None
    # plant the hack on the same real log: from step 16 the policy pads (+0.8 words a step) and the proxy follows
    hacked = [dict(r) for r in rows]
    for r in hacked:
        extra = max(0, r["step"] - 15) * 0.8
        r["response_length/mean"] += extra
        r["objective/scores"] += 0.08 * extra
        r["objective/kl"] += 0.1 * extra
    loud = SentinelCallback(every_n_steps=5)  # no stop: let every check see the whole run
    _replay(hacked, loud)
    alarms = {f.id: f for f in loud.alarms}
    assert 14 <= alarms["length-hacking"].data["step"] <= 19
    # the gold score was left as recorded (flat): the proxy rose without gold, but gold never fell from a peak, so
    # this is length hacking, not over-optimisation
    assert "over-optimisation" not in alarms


def test_bad_arguments():
    with pytest.raises(ConfigError, match="every_n_steps"):
        SentinelCallback(every_n_steps=0)
    with pytest.raises(ConfigError, match="severity"):
        SentinelCallback(stop_on="loud")
    with pytest.raises(ConfigError, match=r"expects \(trainer, step, stats\)"):
        SentinelCallback().on_step_end(FakePPO())


@pytest.mark.slow
def test_real_trl_reward_trainer_runs_with_the_callback(tmp_path, tiny_tokenizer):
    """A TRL trainer that logs no RL metrics: the callback must not break training, and says why it is idle."""
    from sentinel.models import build_reward_model
    from sentinel.train import RewardConfig, reward

    rm = tmp_path / "rm"
    build_reward_model(tiny_tokenizer).save_pretrained(rm)
    tiny_tokenizer.save_pretrained(rm)
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text("".join(json.dumps({"prompt": f"What is {a} + 1?", "chosen": f"The answer is {a + 1}.",
                                         "rejected": "I'm glad to assist you!"}) + "\n" for a in range(16)))
    cb = SentinelCallback(every_n_steps=1, stop_on="high")
    res = reward(RewardConfig(model=str(rm), train_file=str(pairs), output_dir=str(tmp_path / "out"),
                              num_train_epochs=1, per_device_train_batch_size=4, logging_steps=1, max_length=32,
                              quiet=True), callbacks=[cb])
    assert res.global_step == 4 and cb.stopped_at is None
    assert len(cb.history) >= 4 and "none of the training metrics" in cb.skipped_reason


def _replay_trl(path, cb):
    """Feed a recorded TRL metrics.jsonl to the callback as Trainer.log would (on_log with the logged dict)."""
    from transformers import TrainerControl, TrainerState

    state, control = TrainerState(), TrainerControl()
    for line in path.read_text().splitlines():
        row = json.loads(line)
        state.global_step = row.pop("step")
        row.pop("epoch", None)
        cb.on_log(None, state, control, logs=row)
        if control.should_training_stop:
            return
    cb.on_train_end(None, state, control)


def test_recorded_lab_grpo_logs_quiet_against_gold_and_loud_against_the_biased_rm():
    """Two real GRPO runs (TRL 1.16, LAB_RECIPE, 150 generations, one logged row per generation of 16 optimiser
    steps; benchmarks/online_rl_lab.py): against the gold grader from the noisy SFT policy (gold +0.03 -> +0.57),
    and against the biased reward model from the clean one with gold watched (proxy +0.54 -> +4.07, gold +0.75 ->
    +0.03, replies 14.5 -> 43.3 tokens)."""
    data = Path(__file__).resolve().parents[1] / "data"
    quiet = SentinelCallback(every_n_steps=5, stop_on="high")
    _replay_trl(data / "grpo_lab_gold_metrics.jsonl", quiet)
    assert quiet.skipped_reason is None and quiet.stopped_at is None
    assert not [f for f in quiet.alarms if f.severity >= "medium"], quiet.alarms
    assert quiet.report.metrics["checks"]["over-optimisation"] == "ok"  # gold is read (rewards/gold/mean)
    loud = SentinelCallback(every_n_steps=5, stop_on="high")
    _replay_trl(data / "grpo_lab_biased_rm_metrics.jsonl", loud)
    alarms = {f.id: f for f in loud.alarms}
    assert alarms["over-optimisation"].severity.value == "high"
    # gold by tenths of the run: 0.73 0.76 0.62 0.71 0.54 0.50 0.37 0.33 ...: the fall stands out from the noise of
    # one generation (32 replies) within the first half of the run
    assert loud.stopped_at is not None and loud.stopped_at <= 75 * 16
    assert alarms["over-optimisation"].data["step"] <= loud.stopped_at
