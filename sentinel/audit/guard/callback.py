"""`SentinelCallback`: the training checks, run online every N steps, for TRL trainers and for our PPO.

- TRL / transformers trainers call `on_log(args, state, control, logs)`; the callback keeps the logged rows and
  stops training through `control.should_training_stop`.
- Our `PPOTrainer` calls `on_step_end(trainer, step, stats)` after every step; the callback stops it by returning
  True and setting `trainer.stop_training = True`.
Both paths share one history and the same checks (`check_training`), so an alarm reads the same in either.
"""

from __future__ import annotations

import logging
from typing import Any

from transformers import TrainerCallback, TrainerControl, TrainerState

from ...errors import ConfigError, DataError
from ...report import Finding, Report, Severity
from ..consistency.thresholds import ConsistencyConfig
from .checks import check_training

logger = logging.getLogger(__name__)


class SentinelCallback(TrainerCallback):
    """Watch a training run for reward hacking and instability.

    every_n_steps: run the checks every this many logged steps (and at the end of training). On 54 lab PPO runs,
        checks every 5 steps caught as many over-optimised runs as every 10 with no more false alarms, a few steps
        earlier (docs/validation.md, "The guard as a detector").
    stop_on: stop training when a finding reaches this severity ("high", "critical", ...); None never stops.
    kl_target: the run's KL target (nats), for the "KL above 1.5x target" alarm; when not given, read from our
        PPO trainer's config (`target` of the adaptive KL controller, when `adap_kl_ctrl` is on); its early-stop
        `target_kl` becomes `approxkl_target` likewise.
    Other keyword arguments are `ConsistencyConfig` fields. After training, `report` holds the last Report,
    `alarms` one finding per alarm id raised, at the highest severity it reached (the finding of the check that first
    showed that severity), `raised_at` the step at which each alarm reached that severity (a check runs every
    `every_n_steps`, so an alarm is raised at or after the step its evidence names), `stopped_at` the step training
    was stopped at: the finding that stopped it is among `alarms` at the severity that stopped it.
    """

    def __init__(self, every_n_steps: int = 5, stop_on: str | Severity | None = None, kl_target: float | None = None,
                 config: ConsistencyConfig | None = None, **overrides: Any):
        from ...config import from_dict, to_dict

        if every_n_steps < 1:
            raise ConfigError(f"must be at least 1, got {every_n_steps!r}", field="every_n_steps")
        self.every_n_steps = every_n_steps
        self.stop_on = Severity.parse(stop_on) if stop_on is not None else None
        base = to_dict(config) if config is not None else {}
        if kl_target is not None:
            overrides["kl_target"] = kl_target
        self.config = from_dict(ConsistencyConfig, {**base, **overrides})
        self.history: list[dict[str, Any]] = []
        self.alarms: list[Finding] = []
        self.raised_at: dict[str, int] = {}
        self.report: Report | None = None
        self.stopped_at: int | None = None
        self._since_check = 0
        self.skipped_reason: str | None = None
        self._targets_read = False

    # ------------------------------------------------------------------ shared core
    def record(self, step: int, stats: dict[str, Any]) -> bool:
        """Add one step's metrics; run the checks when due. Returns True when training should stop."""
        row = {k: v for k, v in stats.items() if k != "step"}
        row["step"] = step
        self.history.append(row)
        self._since_check += 1
        if self._since_check < self.every_n_steps:
            return False
        self._since_check = 0
        return self.run_checks(step)

    def run_checks(self, step: int | None = None) -> bool:
        """Run the training checks on the history so far; log new alarms; True when one reaches `stop_on`."""
        if not self.history:
            return False
        try:
            self.report = check_training(list(self.history), self.config)
        except DataError as e:
            # e.g. a reward-model or DPO trainer logs none of the RL metrics these checks read: say so once
            if self.skipped_reason is None:
                logger.warning("sentinel: training checks skipped: %s", e)
            self.skipped_reason = str(e)
            return False
        self.skipped_reason = None
        known = {f.id: k for k, f in enumerate(self.alarms)}
        # An 'inconclusive' report (too few steps yet for any check) is the normal start of a run, not an alarm.
        for f in self.report.findings:
            if f.severity <= Severity.INFO or f.id == "inconclusive":
                continue
            k = known.get(f.id)
            if k is None:
                known[f.id] = len(self.alarms)
                self.alarms.append(f)
            elif f.severity > self.alarms[k].severity:
                self.alarms[k] = f  # the alarm grew more severe: it reads as it does now, raised now
            else:
                continue
            self.raised_at[f.id] = step if step is not None else len(self.history)
            logger.warning("sentinel [%s] %s at step %s: %s", f.severity.value, f.id, step, f.description)
        stop = self.stop_on is not None and any(f.id != "inconclusive" for f in self.report.at_or_above(self.stop_on))
        if stop and self.stopped_at is None:
            self.stopped_at = step
            logger.warning("sentinel: stopping training at step %s (a finding reached '%s')", step,
                           self.stop_on.value if self.stop_on else "?")
        return stop

    def replay(self, history: list[dict[str, Any]]) -> None:
        """Judge a recorded run: its per-step stats (steps 1..n) through `record` as a live run would feed them,
        stopping where `stop_on` would have stopped it, then the checks at its last step. The alarms and the steps
        they are raised at are those of watching the run live."""
        for step, stats in enumerate(history, start=1):
            if self.record(step, stats):
                break
        self.run_checks(len(history))

    # ------------------------------------------------------------------ transformers / TRL
    def on_log(self, args, state: TrainerState, control: TrainerControl, logs: dict | None = None, **kwargs):
        numbers = {k: v for k, v in (logs or {}).items() if isinstance(v, (int, float))}
        if numbers and self.record(int(state.global_step), numbers):
            control.should_training_stop = True
        return control

    def on_train_end(self, args, state, control, **kwargs):
        if self._since_check:
            self.run_checks(int(state.global_step))
        return control

    # -------------------------------------------------------------- our PPO (and transformers' hook of the same name)
    def on_step_end(self, *args, **kwargs):
        """PPO: `on_step_end(trainer, step, stats)`. transformers also calls a hook of this name with
        `(args, state, control)`; that call is recognised by its TrainerState and only returns `control`."""
        if len(args) >= 3 and isinstance(args[1], TrainerState):
            return args[2]
        trainer, step, stats = (list(args) + [kwargs.get("trainer"), kwargs.get("step"), kwargs.get("stats")])[:3]
        if stats is None or step is None:
            raise ConfigError("SentinelCallback.on_step_end expects (trainer, step, stats)", field="callbacks")
        if trainer is not None and not self._targets_read:
            self._adopt_kl_targets(trainer)
        stop = self.record(int(step), dict(stats))
        if stop and trainer is not None:
            trainer.stop_training = True
        return stop

    def _adopt_kl_targets(self, trainer) -> None:
        """Read the KL targets from a PPO trainer's config: the adaptive controller's `target` (for objective/kl,
        only when adaptive control is on) and the early-stopping `target_kl` (for policy/approxkl_avg)."""
        cfg = getattr(trainer, "config", None)

        def positive(name):
            v = getattr(cfg, name, None)
            return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0 else None

        if self.config.kl_target is None:
            explicit = positive("kl_target")
            adaptive = positive("target") if getattr(cfg, "adap_kl_ctrl", False) else None
            self.config.kl_target = explicit or adaptive
        if self.config.approxkl_target is None:
            self.config.approxkl_target = positive("target_kl")
        self._targets_read = True
