"""The demo: the whole lifecycle on the built-in lab (SFT -> reward model -> PPO with the guard -> mitigations ->
DPO), with the audits, in one resumable run that writes a report (`sentinel demo`, `make demo`).

It trains and audits, so it sits above the lab, the trainers and the auditors it drives; the lab itself only builds
worlds and models.
"""

from .run import QUICK_DEMO, DemoConfig, run_demo

__all__ = ["QUICK_DEMO", "DemoConfig", "run_demo"]
