"""Audits: one module per auditor (reward_model, sycophancy, consistency), probes as registered plugins."""
