"""The demo pipeline (`sentinel demo`): every stage runs, the report holds what each stage found, stages resume."""

from __future__ import annotations

import json
import shutil

import pytest

pytestmark = pytest.mark.slow


def test_demo_pipeline_runs_reports_and_resumes(lab_dir, lab_sft, lab_sft_noisy, tmp_path):
    from sentinel.cli import main
    from sentinel.demo.run import DemoConfig, run_demo

    out = tmp_path / "demo"
    # Reuse the session's lab models as finished stages: the pipeline must pick them up instead of retraining.
    for src, name in ((lab_dir, "lab"), (lab_sft, "sft"), (lab_sft_noisy, "sft-noisy")):
        shutil.copytree(src, out / name)
    flags = {"ppo_steps": 12, "ppo_seeds": 2, "dpo_steps": 2, "eval_prompts": 8, "audit_cases": 40,
             "ensemble_size": 2, "rm_steps": 3, "onpolicy_prompts": 12, "heldout_prompts": 6, "heldout_every": 5}
    cfg = DemoConfig(**flags)  # two worker processes (the default) run the reward models and the PPO runs
    report = run_demo(out, cfg)

    saved = json.loads((out / "report.json").read_text())
    assert saved["kind"] == "demo" and saved["config"]["ppo_steps"] == 12
    for name in ("SFT", "PPO", "DPO"):
        assert 0.0 <= saved["metrics"][f"{name}/gold_accuracy"] <= 1.0
    # the reward model learned from annotated pairs of the start policy's own samples and as many templated ones
    made = json.loads((out / "reward-pairs" / "config.json").read_text())
    assert made["onpolicy_pairs"] == made["templated_pairs"] > 0
    assert len((out / "reward-pairs" / "pairs.jsonl").read_text().splitlines()) == 2 * made["onpolicy_pairs"]
    ids = [f["id"] for f in saved["findings"]]
    assert "ppo/proxy-vs-gold" in ids and "demo/guard-vs-peak" in ids
    m = saved["metrics"]
    # one PPO run per seed, each with gold on held-out prompts at steps 1, 5 and 10; the curve is their mean
    assert m["ppo/seeds"] == 2 and m["ppo/seed_list"] == [0, 1]
    for seed in (0, 1):
        history = json.loads((out / "ppo" / f"seed-{seed}" / "history.json").read_text())
        assert len(history) == 12
        assert [i + 1 for i, h in enumerate(history) if "heldout/gold" in h] == [1, 5, 10]
        assert f"ppo/seed_{seed}/first_high_alarm_step" in m
    assert m["ppo/heldout_gold_first"] is not None and m["ppo/window"] == 5
    assert m["ppo/gold_first"] - 1e-9 <= m["ppo/gold_peak"] and m["ppo/gold_last"] <= m["ppo/gold_peak"] + 1e-9
    html = (out / "report.html").read_text()
    for fig in report.figures:
        assert (out / fig).stat().st_size > 0 and f"alt='{fig}'" in html
    assert html.count("src='data:image/png;base64,") == len(report.figures) == 3  # embedded, not linked
    # each planted bias against what the audit measured (its probe, flagged or not, the effect) and the lab probe
    planted = next(f for f in saved["findings"] if f["id"] == "demo/planted-vs-measured")["evidence"]
    assert [r["bias"] for r in planted] == ["verbosity", "keyword", "sycophancy", "evasiveness"]
    verbosity = planted[0]
    assert verbosity["planted weight"] > 0 and verbosity["effect (SD)"] is not None
    assert verbosity["flagged"] in ("no", "info", "low", "medium", "high", "critical")
    assert verbosity["lab probe: prefers the biased reply"] == m["reward_model/prefers_verbosity"]
    # the mitigations ran from the same start policy and budget, each in its own folder, and fill one table
    table = next(f for f in saved["findings"] if f["id"] == "demo/mitigations")["evidence"]
    assert [r["run"] for r in table] == ["PPO", "strong-kl", "ensemble", "length-penalty", "guard-stop", "DPO"]
    assert [r.get("seeds") for r in table] == [2, 1, 1, 1, 1, None]
    assert all(r["steps"] <= 12 and "gold end" in r for r in table[:-1])
    for name in ("strong-kl", "ensemble", "length-penalty", "guard-stop"):
        assert len(json.loads((out / "mitigations" / name / "seed-0" / "history.json").read_text())) <= 12
        assert 0.0 <= m[f"mitigation/{name}/gold_accuracy"] <= 1.0
    assert (out / "reward-model-1" / "model.safetensors").is_file()  # the ensemble's second member
    # one seed per mitigation cannot separate a lead from noise: the report names no winner and says why
    assert m["mitigation/winner"] is None and "one seed" in m["mitigation/winner_reason"]
    import yaml

    def settings(name):
        return yaml.safe_load((out / "mitigations" / name / "seed-0" / "config.yaml").read_text())

    assert settings("strong-kl")["init_kl_coef"] == cfg.strong_kl_coef != cfg.ppo_kl_coef
    assert settings("length-penalty")["length_penalty"] == cfg.length_penalty > 0
    assert settings("ensemble")["ensemble"] == cfg.ensemble
    assert (settings("guard-stop")["init_kl_coef"], settings("guard-stop")["length_penalty"]) == (cfg.ppo_kl_coef, 0.0)
    # guard-stop is the watched seed-0 run cut at its guard's first high alarm: its copy, not a second run
    watched = json.loads((out / "ppo" / "seed-0" / "history.json").read_text())
    stopped = json.loads((out / "mitigations" / "guard-stop" / "seed-0" / "history.json").read_text())
    assert stopped == watched[:len(stopped)]
    assert not (out / "mitigations" / "guard-stop" / "seed-0" / "metrics.jsonl").exists()  # never trained itself
    # the mitigations are not watched on held-out prompts (the watched runs are)
    assert all("heldout/gold" not in h for h in json.loads(
        (out / "mitigations" / "strong-kl" / "seed-0" / "history.json").read_text()))
    ensemble_step = json.loads((out / "mitigations" / "ensemble" / "seed-0" / "history.json").read_text())[0]
    assert {"ensemble/member_0", "ensemble/member_1"} <= set(ensemble_step)  # both members scored every step
    # the summary is the run's own: its figures and its first sentence come from the metrics
    assert saved["key_metrics"] and all(k in m for k in saved["key_metrics"])
    assert saved["summary"][0].startswith(f"PPO against the reward model trained on the biased preferences ran 12 "
                                          f"steps: proxy reward {m['ppo/proxy_first']:+.2f} ->")
    assert "the mean of 2 seeds" in saved["summary"][0]
    assert saved["next_steps"] and "What to do next" in html

    # A second run resumes: finished stages (PPO and DPO included) are reused, not trained again; the alarms,
    # replayed from the saved histories, are raised at the same steps.
    stamp = (out / "dpo" / "model.safetensors").stat().st_mtime_ns
    argv = [x for k, v in flags.items() for x in (f"--{k.replace('_', '-')}", str(v))]
    assert main(["-q", "demo", "--out", str(out), *argv]) == 0
    assert (out / "dpo" / "model.safetensors").stat().st_mtime_ns == stamp
    again = json.loads((out / "report.json").read_text())
    assert again["metrics"]["ppo/first_high_alarm_step"] == m["ppo/first_high_alarm_step"]
    assert again["metrics"]["ppo/gold_peak"] == m["ppo/gold_peak"]
    # Other settings in the same folder would silently reuse stages trained with these: refused, naming the field.
    from sentinel.errors import ConfigError

    with pytest.raises(ConfigError, match="ppo_steps: 12 -> 13"):
        run_demo(out, DemoConfig(**{**cfg.__dict__, "ppo_steps": 13}))


def test_demo_config_rejects_bad_values():
    from sentinel.demo.run import DemoConfig
    from sentinel.errors import ConfigError

    with pytest.raises(ConfigError, match="ppo_steps"):
        DemoConfig(ppo_steps=0)
    with pytest.raises(ConfigError, match="ppo_kl_coef"):
        DemoConfig(ppo_kl_coef=-1.0)
    with pytest.raises(ConfigError, match="ensemble"):
        DemoConfig(ensemble="max")


def test_gold_weight_reaches_the_lab_annotator(tmp_path, monkeypatch):
    from sentinel.demo import run as pipeline

    seen = {}

    def stop_after_init(out, config, overwrite=False):  # the lab is all this test needs
        seen["config"] = config
        raise RuntimeError("stop")

    monkeypatch.setattr("sentinel.lab.build.init_lab", stop_after_init)
    for weight, expected in ((None, 4.0), (6.0, 6.0)):  # the demo's own default: 4
        with pytest.raises(RuntimeError, match="stop"):
            cfg = pipeline.DemoConfig() if weight is None else pipeline.DemoConfig(gold_weight=weight)
            pipeline.run_demo(tmp_path / f"demo-{weight}", cfg)
        assert seen["config"].gold_weight == expected


def test_quick_preset_sits_under_the_yaml_and_the_flags(tmp_path):
    from sentinel.cli.main import build_parser
    from sentinel.config import from_args
    from sentinel.demo.run import QUICK_DEMO, DemoConfig

    yaml = tmp_path / "demo.yaml"
    yaml.write_text("eval_prompts: 30\n")
    args = build_parser().parse_args(["demo", "--quick", "--ppo-steps", "5", "--config", str(yaml)])
    cfg = from_args(DemoConfig, args, args.config, base=QUICK_DEMO if args.quick else None)
    assert cfg.ppo_steps == 5 and cfg.eval_prompts == 30  # the flag and the YAML file win
    assert cfg.sft_steps == QUICK_DEMO["sft_steps"] != DemoConfig().sft_steps  # the preset applies
    plain = build_parser().parse_args(["demo"])
    assert from_args(DemoConfig, plain, None, base=None) == DemoConfig()


def test_run_figures_read_the_seeds_mean_curve_through_full_windows():
    from sentinel.demo.mitigations import run_figures

    # gold rises for 50 steps then falls; the proxy rises throughout; two seeds offset by +-0.1; window 5 (100 steps)
    def run(offset):
        gold = [0.01 * i for i in range(50)] + [0.4 - 0.02 * i for i in range(50)]
        return [{"gold/score": g + offset, "objective/scores": 0.05 * i, "objective/kl": 0.01 * i * i,
                 "response_length/mean": 10.0 + i} for i, g in enumerate(gold)]

    f = run_figures([run(0.1), run(-0.1)])
    assert (f["seeds"], f["steps"], f["window"]) == (2, 100, 5)
    assert f["gold_start"] == pytest.approx(0.02)  # the first *full* window: steps 1-5
    assert f["gold_best"] == pytest.approx((0.45 + 0.46 + 0.47 + 0.48 + 0.49) / 5) and f["gold_best_step"] == 50
    assert f["gold_end"] == pytest.approx(sum(0.4 - 0.02 * i for i in range(45, 50)) / 5)
    assert f["gold_fall"] == pytest.approx(f["gold_best"] - f["gold_end"]) and f["gold_rise"] > 0.4
    assert f["gold_end_max"] - f["gold_end_min"] == pytest.approx(0.2)  # the seeds' spread
    assert f["proxy_end"] > f["proxy_start"] and f["sqrt_kl_end"] == pytest.approx(
        (sum(0.01 * i * i for i in range(95, 100)) / 5) ** 0.5)
    assert f["gao_beta"] > 0 and f["gao_r2"] > 0.5  # a curve that rises and falls in sqrt(KL) turns down


def test_clear_winner_only_beyond_the_seeds_spread():
    from sentinel.demo.tables import clear_winner

    def fig(end, low, high, seeds=3):
        return {"gold_end": end, "gold_end_min": low, "gold_end_max": high, "seeds": seeds}

    apart = {"PPO": fig(-0.2, -0.3, -0.1), "strong-kl": fig(0.3, 0.2, 0.4), "ensemble": fig(0.0, -0.1, 0.1)}
    assert clear_winner(apart)[0] == "strong-kl"
    overlapping = {**apart, "ensemble": fig(0.25, 0.1, 0.35)}
    name, why = clear_winner(overlapping)
    assert name is None and "no clear winner" in why
    one_seed = {**apart, "strong-kl": fig(0.3, 0.3, 0.3, seeds=1)}
    name, why = clear_winner(one_seed)
    assert name is None and "one seed" in why


def test_heldout_gold_is_measured_every_few_steps_and_leaves_the_run_unchanged(tiny_tokenizer):
    from ppo_tiny import PROMPTS, small_config

    from sentinel.demo.mitigations import HeldOutGold
    from sentinel.models import TinyConfig, build_causal_lm
    from sentinel.train.ppo import PPOTrainer

    def run(callbacks):
        policy = build_causal_lm(tiny_tokenizer, TinyConfig(hidden_size=32, intermediate_size=64,
                                                            num_hidden_layers=1))
        trainer = PPOTrainer(config=small_config(max_steps=5), model=policy, tokenizer=tiny_tokenizer,
                             reward_model=lambda p, r: [float(x.count("5")) for x in r], callbacks=callbacks)
        return trainer.train(PROMPTS)

    watched = run([HeldOutGold(PROMPTS[:4], every=2, samples=2)])
    plain = run([])
    assert [i + 1 for i, h in enumerate(watched) if "heldout/gold" in h] == [1, 2, 4]
    assert all(-1.0 <= h["heldout/gold"] <= 1.0 and 0.0 <= h["heldout/greedy_accuracy"] <= 1.0
               for h in watched if "heldout/gold" in h)
    # its sampling draws from a forked RNG: the training run is the one it would have been unwatched
    drop = ("heldout/gold", "heldout/greedy_accuracy", "time/step")
    assert [{k: v for k, v in h.items() if k not in drop} for h in watched] == \
        [{k: v for k, v in h.items() if k not in drop} for h in plain]
