"""Lab folders for the lab benchmarks: the lab (seed 0, default biases), an SFT policy and a reward model on the
biased preferences, each built with the lab's quick recipes (`sentinel.lab.recipes.QUICK_SFT` / `QUICK_RM`: a
partly trained policy, and the test fixtures' reward-model settings) unless the caller passes an existing folder or
`out` already holds one; and reward models trained with the lab's full recipes (`recipe_reward_model`)."""

from __future__ import annotations

from pathlib import Path


def lab_models(out: str | Path, lab: str | None = None, sft: str | None = None, rm: str | None = None, *,
               with_rm: bool = True) -> tuple[Path, Path, Path | None]:
    """(lab, sft, rm) folders; rm is None when `with_rm` is False."""
    from sentinel.lab import LabConfig, init_lab
    from sentinel.lab.recipes import QUICK_RM, QUICK_SFT, RecipeConfig, train_reward, train_sft

    out = Path(out)
    lab_dir = Path(lab) if lab else out / "lab"
    if not (lab_dir / "lab.json").is_file():
        print(f"building the lab in {lab_dir} ...", flush=True)
        init_lab(lab_dir, LabConfig(seed=0), overwrite=True)
    sft_dir = Path(sft) if sft else out / "sft"
    if not (sft_dir / "config.json").is_file():
        print(f"training the SFT policy in {sft_dir} ...", flush=True)
        train_sft(lab_dir, sft_dir, RecipeConfig(**QUICK_SFT))
    if not with_rm:
        return lab_dir, sft_dir, None
    rm_dir = Path(rm) if rm else out / "rm-biased"
    if not (rm_dir / "config.json").is_file():
        print(f"training the biased reward model in {rm_dir} ...", flush=True)
        train_reward(lab_dir, rm_dir, RecipeConfig(**QUICK_RM), init=sft_dir)
    return lab_dir, sft_dir, rm_dir


def noisy_start(out: str | Path, lab_dir: Path, sft: str | None = None, noisy: float = 0.4) -> tuple[Path, Path]:
    """(sft, start): the lab's SFT recipe trained 1000 steps on one thread into OUT/sft (unless `sft` is given), and
    that policy fine-tuned on demonstrations of which a share `noisy` give a wrong answer (`noisy_sft`) into
    OUT/sft-noisy-<share>: a start with room to improve, as the over-optimisation gate and the on-policy reward model
    use it. With `noisy` 0 the start is the SFT policy itself."""
    from sentinel.lab.recipes import SFT_RECIPE, RecipeConfig, noisy_sft, train_sft

    out = Path(out)
    sft_dir = Path(sft) if sft else out / "sft"
    if not (sft_dir / "config.yaml").is_file():
        print(f"training the SFT policy (1000 steps) in {sft_dir} ...", flush=True)
        train_sft(lab_dir, sft_dir, RecipeConfig(**{**SFT_RECIPE, "steps": 1000, "threads": 1}))
    if noisy <= 0:
        return sft_dir, sft_dir
    start = out / f"sft-noisy-{noisy:g}"
    if not (start / "config.yaml").is_file():
        print(f"fine-tuning it on {noisy:.0%} wrong demonstrations in {start} ...", flush=True)
        noisy_sft(lab_dir, sft_dir, start, share=noisy)
    return sft_dir, start


def recipe_reward_model(root: str | Path, name: str, biases: dict | None) -> Path:
    """ROOT/lab-rm-NAME: a reward model trained with the lab's full recipe (`RM_RECIPE`) on the preferences of
    ROOT/lab-NAME, a lab of seed 0 whose annotator has `biases` (None: the default ones), started from ROOT/lab-sft
    (`SFT_RECIPE`, trained on the first lab built). The layout of SENTINEL_TEST_CACHE, so the test fixtures' models
    are reused; each folder is built once."""
    import time

    from sentinel.lab import LabConfig, init_lab
    from sentinel.lab.recipes import SFT_RECIPE, RecipeConfig, train_reward, train_sft

    root = Path(root)
    lab = root / f"lab-{name}"
    if not (lab / "lab.json").is_file():
        init_lab(lab, LabConfig(seed=0) if biases is None else LabConfig(seed=0, biases=biases), overwrite=True)
    sft = root / "lab-sft"
    if not (sft / "config.yaml").is_file():
        train_sft(lab, sft, RecipeConfig(**SFT_RECIPE))
    rm = root / f"lab-rm-{name}"
    if not (rm / "config.yaml").is_file():
        t0 = time.time()
        train_reward(lab, rm, init=sft)  # RM_RECIPE
        print(f"trained {rm} in {time.time() - t0:.0f} s", flush=True)
    return rm
