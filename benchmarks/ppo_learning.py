"""Does our PPO learn as much per step as classic TRL 0.11.4's? The same lab SFT policy, prompts, rewards and settings.

    python benchmarks/ppo_learning.py --out runs/ppo-learning [--lab DIR --sft DIR] [--seeds 0,1,2] [--steps 100]
        [--rewards gold,brevity] [--threads 1]

Both sides start from the same SFT policy (weights loaded into the same Llama on each side), see the same prompts
in the same order (token ids rendered once with the lab's chat template; 32 a step, drawn by the seed), are scored
by the same reward code, and take the hyperparameters below field by field (our `PPOConfig` keeps classic TRL's
names; the script prints which fields went to both sides). Our side runs in this virtual environment, TRL 0.11.4 in
`benchmarks/.venv-trl011` (created on first use, as by `ppo_vs_trl.py`); its rewards come from a helper process in
this environment, so both sides are scored by identical code. Rewards:

- `gold`: the lab's gold grade of the reply (1 correct, 0 no answer, -1 wrong);
- `brevity`: shorter is better, but only while the answer is kept: -min(words, 30) / 30 for a correct reply, -1
  otherwise (a reply that drops its answer gets no credit for being short).

Prints, per reward and side, the sampled reward's curve (mean per 10 steps, averaged over seeds), its start / step
50 / step 100 values (mean and spread over seeds), the KL to the reference at the end, the final policy's greedy gold
accuracy on the lab's eval split, and the wall time; the ratios come last. Results go to OUT/results.json.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
BATCH = 32
# The lab's PPO recipe (`sentinel.train.ppo.hyperparams.LAB_RECIPE`), written out so both sides read the same values.
SETTINGS = {"learning_rate": 1e-4, "batch_size": BATCH, "mini_batch_size": 8, "gradient_accumulation_steps": 1,
            "ppo_epochs": 4, "gamma": 1.0, "lam": 0.95, "cliprange": 0.2, "cliprange_value": 0.2, "vf_coef": 0.1,
            "adap_kl_ctrl": False, "init_kl_coef": 0.05, "kl_penalty": "kl", "target": 6.0, "horizon": 10000.0,
            "whiten_rewards": False, "use_score_scaling": False, "use_score_norm": False, "score_clip": None,
            "max_grad_norm": None, "early_stopping": False, "target_kl": 1.0, "ratio_threshold": 10.0}
DEFAULTS = dict(SETTINGS)
GENERATION = {"max_new_tokens": 48, "temperature": 0.7, "top_k": 0, "top_p": 1.0, "do_sample": True}
REWARDS = ("gold", "brevity")


# ------------------------------------------------------------------------------------------------ rewards
def reward_fn(name: str):
    """`fn(prompts, responses) -> list[float]`: the same code scores both sides."""
    from sentinel.lab import gold_rewards

    if name == "gold":
        return gold_rewards

    def brevity(prompts, responses):
        golds = gold_rewards(prompts, responses)
        return [-min(len(r.split()), 30) / 30 if g == 1.0 else -1.0 for g, r in zip(golds, responses)]

    return brevity


def reward_server(work: Path, name: str) -> None:
    """Scores JSON lines {"index": [...], "responses": [...]} from stdin, one JSON list of rewards per line."""
    prompts = [p["messages"] for p in json.loads((work / "prompts.json").read_text())]
    fn = reward_fn(name)
    for line in sys.stdin:
        req = json.loads(line)
        print(json.dumps(fn([prompts[i] for i in req["index"]], req["responses"])), flush=True)


# ------------------------------------------------------------------------------------------------ setup
def prepare(work: Path, lab: Path, sft: Path) -> None:
    """Prompt token ids, the policy's dims and a tokenizer file both transformers versions read."""
    from ppo_vs_trl import write_legacy_tokenizer  # benchmarks/ (the script's folder is on sys.path)

    from sentinel.data import read_rows
    from sentinel.lab import Lab
    from sentinel.models import load_tokenizer

    tok = load_tokenizer(str(sft))
    rows = read_rows(Lab.open(lab).data("prompts")).rows
    prompts = []
    for r in rows:
        text = tok.apply_chat_template(r["prompt"], tokenize=False, add_generation_prompt=True)
        prompts.append({"messages": r["prompt"], "ids": tok(text, add_special_tokens=False)["input_ids"]})
    (work / "prompts.json").write_text(json.dumps(prompts))
    write_legacy_tokenizer(sft / "tokenizer.json", work / "tokenizer-legacy.json")
    cfg = json.loads((sft / "config.json").read_text())
    dims = {k: cfg[k] for k in ("vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads",
                                "num_key_value_heads", "intermediate_size", "max_position_embeddings",
                                "tie_word_embeddings", "rms_norm_eps") if k in cfg}
    (work / "setup.json").write_text(json.dumps({
        "dims": dims, "weights": str(sft / "model.safetensors"),
        "special": {"pad_token": tok.pad_token, "eos_token": tok.eos_token, "bos_token": tok.bos_token},
        "ids": {"pad_token_id": tok.pad_token_id, "eos_token_id": tok.eos_token_id, "bos_token_id": tok.bos_token_id}}))


def load_policy(work: Path):
    """The SFT policy, built from its dims and loaded from its weights on either transformers version."""
    from safetensors.torch import load_file
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    setup = json.loads((work / "setup.json").read_text())
    tok = PreTrainedTokenizerFast(tokenizer_file=str(work / "tokenizer-legacy.json"), **setup["special"])
    model = LlamaForCausalLM(LlamaConfig(**setup["dims"], **setup["ids"]))
    missing, unexpected = model.load_state_dict(load_file(setup["weights"]), strict=False)
    assert not unexpected and all("lm_head" in k for k in missing), (missing, unexpected)
    model.tie_weights()
    model.generation_config.pad_token_id = tok.pad_token_id
    model.generation_config.eos_token_id = tok.eos_token_id
    return model, tok


def batches(n_prompts: int, steps: int, seed: int) -> list[list[int]]:
    """The prompt indexes of every step: the same on both sides for a seed."""
    rng = random.Random(f"ppo-learning:{seed}")
    order: list[int] = []
    out = []
    for _ in range(steps):
        batch = []
        while len(batch) < BATCH:
            if not order:
                order = list(range(n_prompts))
                rng.shuffle(order)
            batch.append(order.pop())
        out.append(batch)
    return out


# ----------------------------------------------------------------------------------------------- workers
def worker_ours(work: Path, reward: str, seed: int, steps: int, out: Path) -> list[dict]:
    from sentinel import PPOConfig, PPOTrainer

    model, tok = load_policy(work)
    prompts = json.loads((work / "prompts.json").read_text())
    cfg = PPOConfig(**SETTINGS, **GENERATION, seed=seed, device="cpu")
    trainer = PPOTrainer(config=cfg, model=model, tokenizer=tok)
    score = reward_fn(reward)
    rows = []
    for index in batches(len(prompts), steps, seed):
        t0 = time.perf_counter()
        queries = [prompts[i]["ids"] for i in index]
        responses = trainer.generate(queries)
        texts = [r.strip() for r in responses]  # as the TRL side decodes them
        rewards = score([prompts[i]["messages"] for i in index], texts)
        stats = trainer.step(queries, responses, rewards)
        rows.append({"reward": statistics.fmean(rewards), "kl": float(stats["objective/kl"]),
                     "length": statistics.fmean(len(r.split()) for r in texts), "s": time.perf_counter() - t0})
    trainer.save_model(out)
    return rows


def worker_trl(work: Path, reward: str, seed: int, steps: int, out: Path, scorer: list[str]) -> list[dict]:
    import dataclasses

    import torch
    from trl import AutoModelForCausalLMWithValueHead, PPOConfig, PPOTrainer, create_reference_model

    base, tok = load_policy(work)
    prompts = json.loads((work / "prompts.json").read_text())
    known = {f.name for f in dataclasses.fields(PPOConfig)}
    assert set(SETTINGS) <= known, sorted(set(SETTINGS) - known)
    model = AutoModelForCausalLMWithValueHead.from_pretrained(base)
    trainer = PPOTrainer(config=PPOConfig(**SETTINGS, seed=seed), model=model, ref_model=create_reference_model(model),
                         tokenizer=tok)
    gen = {**GENERATION, "pad_token_id": tok.pad_token_id, "eos_token_id": tok.eos_token_id}
    server = subprocess.Popen(scorer, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    rows = []
    try:
        for index in batches(len(prompts), steps, seed):
            t0 = time.perf_counter()
            queries = [torch.tensor(prompts[i]["ids"]) for i in index]
            response_ids = trainer.generate(queries, return_prompt=False, batch_size=BATCH, **gen)
            # transformers 4.44 tidies " ," into "," by default; ours (5.x) decodes the tokens as they are
            responses = [t.strip() for t in tok.batch_decode(response_ids, skip_special_tokens=True,
                                                             clean_up_tokenization_spaces=False)]
            server.stdin.write(json.dumps({"index": index, "responses": responses}) + "\n")
            server.stdin.flush()
            rewards = json.loads(server.stdout.readline())
            stats = trainer.step(queries, response_ids, [torch.tensor(float(r)) for r in rewards])
            rows.append({"reward": statistics.fmean(rewards), "kl": float(stats["objective/kl"]),
                         "length": statistics.fmean(len(r.split()) for r in responses),
                         "s": time.perf_counter() - t0})
    finally:
        server.stdin.close()
        server.wait()
    trainer.model.pretrained_model.save_pretrained(out, safe_serialization=True)
    return rows


# ------------------------------------------------------------------------------------------------- main
def run_side(python: str, side: str, work: Path, reward: str, seed: int, steps: int, out: Path, threads: int,
             lab: Path) -> list[dict]:
    env = dict(os.environ, HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false", PYTHONWARNINGS="ignore",
               OMP_NUM_THREADS=str(threads), PYTHONPATH=str(HERE.parent))
    cmd = [python, __file__, "--worker", side, "--work", str(work), "--rewards", reward, "--seeds", str(seed),
           "--steps", str(steps), "--out", str(out), "--threads", str(threads), "--lab", str(lab),
           "--temperature", str(GENERATION["temperature"])]
    cmd += [f"--set={k}={json.dumps(v)}" for k, v in SETTINGS.items() if v != DEFAULTS[k]]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if proc.returncode:
        sys.exit(f"{side} worker failed:\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def window(rows: list[dict], key: str, end: int, width: int = 10) -> float:
    return statistics.fmean(r[key] for r in rows[max(0, end - width):end])


def spread(values: list[float]) -> str:
    mean = statistics.fmean(values)
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{mean:+.3f} ± {sd:.3f}"


def summarise(runs: dict, evals: dict, steps: int) -> dict:
    """Per reward and side: curve, start / mid / end windows over seeds, KL, accuracy, time."""
    out = {}
    for (reward, side), by_seed in sorted(runs.items()):
        seeds = sorted(by_seed)
        curve = [statistics.fmean(window(by_seed[s], "reward", e) for s in seeds) for e in range(10, steps + 1, 10)]
        out[f"{reward}/{side}"] = {
            "curve": curve,
            "start": [window(by_seed[s], "reward", 10) for s in seeds],
            "mid": [window(by_seed[s], "reward", steps // 2) for s in seeds],
            "end": [window(by_seed[s], "reward", steps) for s in seeds],
            "kl_end": [window(by_seed[s], "kl", steps) for s in seeds],
            "length_end": [window(by_seed[s], "length", steps) for s in seeds],
            "accuracy": [evals[(reward, side, s)] for s in seeds],
            "seconds": [sum(r["s"] for r in by_seed[s]) for s in seeds],
        }
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="runs/ppo-learning", help="folder for the lab models, runs and results.json")
    ap.add_argument("--lab", help="lab folder (default: built into --out)")
    ap.add_argument("--sft", help="SFT policy folder (default: the lab's quick SFT recipe, built into --out)")
    ap.add_argument("--seeds", default="0,1,2", help="comma-separated seeds")
    ap.add_argument("--steps", type=int, default=100, help="PPO steps per run")
    ap.add_argument("--rewards", default=",".join(REWARDS), help=f"comma-separated, of {', '.join(REWARDS)}")
    ap.add_argument("--threads", type=int, default=1, help="torch threads per worker")
    ap.add_argument("--eval", type=int, default=300, help="eval prompts for greedy gold accuracy")
    ap.add_argument("--temperature", type=float, default=GENERATION["temperature"],
                    help="sampling temperature, both sides (an ablation: classic TRL measures log-probs at 1)")
    ap.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                    help="change one of SETTINGS on both sides (an ablation), e.g. --set use_score_norm=true")
    ap.add_argument("--sides", default="trl,ours", help="which sides to run")
    ap.add_argument("--worker", choices=["ours", "trl"], help=argparse.SUPPRESS)
    ap.add_argument("--work", help=argparse.SUPPRESS)
    ap.add_argument("--reward-server", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    GENERATION["temperature"] = args.temperature
    for item in args.set:
        name, value = item.split("=", 1)
        if name not in SETTINGS:
            sys.exit(f"--set {name}: not one of {', '.join(SETTINGS)}")
        SETTINGS[name] = json.loads(value)
    if args.reward_server:
        reward_server(Path(args.work), args.rewards)
        return
    if args.worker:
        import torch

        torch.set_num_threads(args.threads)
        work, seed = Path(args.work), int(args.seeds)
        if args.worker == "ours":
            rows = worker_ours(work, args.rewards, seed, args.steps, Path(args.out))
        else:
            scorer = [os.environ["SENTINEL_PYTHON"], __file__, "--reward-server", "--work", str(work),
                      "--rewards", args.rewards]
            rows = worker_trl(work, args.rewards, seed, args.steps, Path(args.out), scorer)
        print(json.dumps(rows))
        return

    sys.path.insert(0, str(HERE))
    from _lab_models import lab_models
    from ppo_vs_trl import ensure_trl_venv

    from sentinel.lab import Lab
    from sentinel.lab.evaluate import evaluate

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    lab, sft, _ = lab_models(out, args.lab, args.sft, with_rm=False)
    work = out / "work"
    work.mkdir(exist_ok=True)
    prepare(work, lab, sft)
    trl_python = str(ensure_trl_venv())
    os.environ["SENTINEL_PYTHON"] = sys.executable
    seeds = [int(s) for s in args.seeds.split(",")]
    rewards = args.rewards.split(",")
    shared = sorted(SETTINGS)
    print(f"settings given to both sides: {', '.join(f'{k}={SETTINGS[k]}' for k in shared)}")
    print(f"generation on both sides: {GENERATION}; {BATCH} prompts a step; {args.steps} steps; seeds {seeds}")
    eval_rows = Lab.open(lab).data("eval")
    base = evaluate(str(sft), eval_rows, limit=args.eval)["accuracy"]
    print(f"SFT start: greedy gold accuracy {base:.3f} on {args.eval} eval prompts", flush=True)
    runs: dict = {}
    evals: dict = {}
    for reward in rewards:
        for seed in seeds:
            for side, py in [(s, trl_python if s == "trl" else sys.executable) for s in args.sides.split(",")]:
                folder = out / f"{reward}-{side}-{seed}"
                rows = run_side(py, side, work, reward, seed, args.steps, folder, args.threads, lab)
                for name in ("tokenizer.json", "tokenizer_config.json", "chat_template.jinja"):
                    if (sft / name).exists() and not (folder / name).exists():
                        shutil.copy2(sft / name, folder / name)
                runs.setdefault((reward, side), {})[seed] = rows
                evals[(reward, side, seed)] = evaluate(str(folder), eval_rows, limit=args.eval)["accuracy"]
                print(f"{reward:8s} seed {seed} {side:>4}: reward {window(rows, 'reward', 10):+.3f} -> "
                      f"{window(rows, 'reward', args.steps):+.3f}, KL {window(rows, 'kl', args.steps):.3f}, greedy "
                      f"gold accuracy {evals[(reward, side, seed)]:.3f}, {sum(r['s'] for r in rows):.0f} s",
                      flush=True)
    summary = summarise(runs, evals, args.steps)
    print(f"\nmean over seeds {seeds} (± standard deviation); SFT start accuracy {base:.3f}")
    print(f"{'reward/side':16s} {'steps 1-10':>15s} {'steps 41-50':>15s} {'steps 91-100':>15s} {'KL end':>8s} "
          f"{'accuracy':>15s} {'wall s':>7s}")
    for key, s in summary.items():
        print(f"{key:16s} {spread(s['start']):>15s} {spread(s['mid']):>15s} {spread(s['end']):>15s} "
              f"{statistics.fmean(s['kl_end']):8.3f} {spread(s['accuracy']):>15s} "
              f"{statistics.fmean(s['seconds']):7.0f}")
    print("\nreward curve (mean per 10 steps, over seeds):")
    for key, s in summary.items():
        print(f"{key:16s} " + " ".join(f"{v:+.2f}" for v in s["curve"]))
    for reward in rewards if args.sides == "trl,ours" else []:
        ours, trl = summary[f"{reward}/ours"], summary[f"{reward}/trl"]
        print(f"{reward}: reward gain ours {statistics.fmean(ours['end']) - statistics.fmean(ours['start']):+.3f} vs "
              f"TRL {statistics.fmean(trl['end']) - statistics.fmean(trl['start']):+.3f}; wall time ours / TRL "
              f"{statistics.fmean(ours['seconds']) / statistics.fmean(trl['seconds']):.2f}")
    (out / "results.json").write_text(json.dumps({"args": vars(args), "settings": SETTINGS, "generation": GENERATION,
                                                  "sft_accuracy": base, "summary": summary,
                                                  "runs": {f"{r}/{s}": v for (r, s), v in runs.items()}}, indent=1))


if __name__ == "__main__":
    main()
