"""The demo pipeline (`sentinel demo`): every stage runs, the report holds what each stage found, stages resume."""

from __future__ import annotations

import json
import shutil

import pytest

pytestmark = pytest.mark.slow


def test_demo_pipeline_runs_reports_and_resumes(lab_dir, lab_sft, lab_rm_biased, tmp_path):
    from sentinel.cli import main
    from sentinel.demo.run import DemoConfig, run_demo

    out = tmp_path / "demo"
    # Reuse the session's lab models as finished stages: the pipeline must pick them up instead of retraining.
    for src, name in ((lab_dir, "lab"), (lab_sft, "sft"), (lab_rm_biased, "reward-model")):
        shutil.copytree(src, out / name)
    cfg = DemoConfig(ppo_steps=3, dpo_steps=2, eval_prompts=8, audit_cases=40, ensemble_size=2, rm_steps=3)
    report = run_demo(out, cfg)

    saved = json.loads((out / "report.json").read_text())
    assert saved["kind"] == "demo" and saved["config"]["ppo_steps"] == 3
    for name in ("SFT", "PPO", "DPO"):
        assert 0.0 <= saved["metrics"][f"{name}/gold_accuracy"] <= 1.0
    assert saved["metrics"]["reward_model/prefers_verbosity"] > 0.5  # the planted bias, seen by the lab probe
    ids = [f["id"] for f in saved["findings"]]
    assert "ppo/proxy-vs-gold" in ids and any(i.startswith("reward-model/") for i in ids)
    assert (out / "ppo" / "history.json").is_file() and (out / "dpo" / "model.safetensors").is_file()
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
    assert verbosity["lab probe: prefers the biased reply"] == saved["metrics"]["reward_model/prefers_verbosity"]
    # the mitigations ran from the same SFT policy and budget, each in its own folder, and fill one table
    table = next(f for f in saved["findings"] if f["id"] == "demo/mitigations")["evidence"]
    assert [r["run"] for r in table] == ["PPO", "strong-kl", "ensemble", "length-penalty", "guard-stop", "DPO"]
    assert all(r["steps"] <= 3 and "gold end" in r for r in table[:-1])
    for name in ("strong-kl", "ensemble", "length-penalty", "guard-stop"):
        assert len(json.loads((out / "mitigations" / name / "history.json").read_text())) <= 3
        assert 0.0 <= saved["metrics"][f"mitigation/{name}/gold_accuracy"] <= 1.0
    assert (out / "reward-model-1" / "model.safetensors").is_file()  # the ensemble's second member
    import yaml

    def settings(name):
        return yaml.safe_load((out / "mitigations" / name / "config.yaml").read_text())

    assert settings("strong-kl")["init_kl_coef"] == cfg.strong_kl_coef != cfg.ppo_kl_coef
    assert settings("length-penalty")["length_penalty"] == cfg.length_penalty > 0
    assert settings("ensemble")["ensemble"] == cfg.ensemble
    assert (settings("guard-stop")["init_kl_coef"], settings("guard-stop")["length_penalty"]) == (cfg.ppo_kl_coef, 0.0)
    ensemble_step = json.loads((out / "mitigations" / "ensemble" / "history.json").read_text())[0]
    assert {"ensemble/member_0", "ensemble/member_1"} <= set(ensemble_step)  # both members scored every step
    assert any(line.startswith("Of the mitigations (same SFT start and step budget), ") for line in saved["summary"])
    # the summary is the run's own: its figures and its first sentence come from the metrics
    m = saved["metrics"]
    assert saved["key_metrics"] and all(k in m for k in saved["key_metrics"])
    assert saved["summary"][0].startswith(f"PPO against the reward model trained on the biased preferences ran 3 "
                                          f"steps: proxy reward {m['ppo/proxy_first']:+.2f} ->")
    assert saved["next_steps"] and "What to do next" in html

    # A second run resumes: finished stages (PPO and DPO included) are reused, not trained again.
    stamp = (out / "dpo" / "model.safetensors").stat().st_mtime_ns
    assert main(["-q", "demo", "--out", str(out), "--ppo-steps", "3", "--dpo-steps", "2", "--eval-prompts", "8",
                 "--audit-cases", "40", "--ensemble-size", "2", "--rm-steps", "3"]) == 0
    assert (out / "dpo" / "model.safetensors").stat().st_mtime_ns == stamp
    assert len(json.loads((out / "ppo" / "history.json").read_text())) == 3
    # Other settings in the same folder would silently reuse stages trained with these: refused, naming the field.
    from sentinel.errors import ConfigError

    with pytest.raises(ConfigError, match="ppo_steps: 3 -> 4"):
        run_demo(out, DemoConfig(**{**cfg.__dict__, "ppo_steps": 4}))


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
    from sentinel.lab import pipeline
    from sentinel.lab.build import LabConfig

    seen = {}

    def stop_after_init(out, config, overwrite=False):  # the lab is all this test needs
        seen["config"] = config
        raise RuntimeError("stop")

    monkeypatch.setattr("sentinel.lab.build.init_lab", stop_after_init)
    for weight, expected in ((None, LabConfig().gold_weight), (4.0, 4.0)):
        with pytest.raises(RuntimeError, match="stop"):
            pipeline.run_demo(tmp_path / f"demo-{weight}", pipeline.DemoConfig(gold_weight=weight))
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


def test_run_figures_and_the_best_mitigation():
    from sentinel.demo.mitigations import run_figures
    from sentinel.demo.tables import best_mitigation

    # gold rises for 10 steps then falls; the proxy rises throughout; window = 3 steps for 24 steps
    gold = [0.1 * i for i in range(10)] + [0.9 - 0.1 * i for i in range(14)]
    history = [{"gold/score": g, "objective/scores": 0.2 * i, "objective/kl": float(i), "response_length/mean": 10.0}
               for i, g in enumerate(gold)]
    f = run_figures(history)
    assert f["window"] == 3 and f["steps"] == 24
    assert f["gold_start"] == pytest.approx(0.1) and f["gold_end"] == pytest.approx((-0.3 - 0.4 - 0.2) / 3)
    assert f["gold_best"] == pytest.approx((0.8 + 0.9 + 0.9) / 3) and f["gold_best_step"] in (9, 10)
    assert f["proxy_end"] > f["proxy_start"] and f["sqrt_kl_end"] == pytest.approx(22 ** 0.5)
    metrics = {"DPO/gold_accuracy": 0.6, "mitigation/strong-kl/gold_accuracy": 0.7,
               "mitigation/ensemble/gold_accuracy": 0.7, "mitigation/ensemble/gold_end": 0.5,
               "mitigation/strong-kl/gold_end": 0.2, "mitigation/length-penalty/gold_accuracy": 0.1}
    assert best_mitigation(metrics) == ("ensemble", 0.7)  # a tie on accuracy goes to the higher gold at the end
    assert best_mitigation({"DPO/gold_accuracy": 0.6}) is None  # no mitigations ran
