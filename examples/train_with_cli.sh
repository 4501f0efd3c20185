#!/usr/bin/env bash
# Train SFT -> reward model -> DPO -> PPO -> GRPO on the built-in lab with the CLI and YAML configs, at tiny sizes.
#
#     bash examples/train_with_cli.sh [OUT]        # default OUT: example-out/train_with_cli
#
# Every stage reads one YAML file from examples/configs/ (fields map one to one onto the stage's config
# dataclass) and any field is also a flag that overrides the file: SFT runs with `--max-steps 150` instead of the
# file's 300. Paths in the configs are relative to OUT, where the script runs. Each stage writes a Hugging Face
# model folder with metrics.jsonl, config.yaml (the resolved config) and data_summary.json; then `sentinel compare`
# scores every policy's replies with the lab's exact grader. The sizes are far too small for good models: the
# point is the commands (the lab's recipes: sentinel.lab.recipes, and `sentinel demo`).
set -euo pipefail

CONFIGS="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/configs"
OUT="${1:-example-out/train_with_cli}"
mkdir -p "$OUT"
cd "$OUT"
command -v sentinel >/dev/null || sentinel() { python -m sentinel "$@"; }   # a source checkout without the script
# Offline: nothing here needs the hub. One thread: a 0.14M-parameter model gains little from a second one, and on a
# busy machine idle OpenMP threads spin and slow every step.
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false OMP_NUM_THREADS=1

# A lab: tokenizer, untrained base policy, SFT conversations, annotated preference pairs, RL and eval prompts.
sentinel lab init lab --pairs 2000 --prompts 128 --eval 100 --force

sentinel -q train sft --config "$CONFIGS/sft.yaml" --max-steps 150          # the flag wins over the file
sentinel -q train reward --config "$CONFIGS/reward.yaml"
sentinel lab pairs lab --model runs/sft --out pairs.jsonl --samples 4      # gold-ranked pairs of its own samples
sentinel -q train dpo --config "$CONFIGS/dpo.yaml"
sentinel -q train ppo --config "$CONFIGS/ppo.yaml"
sentinel -q train grpo --config "$CONFIGS/grpo.yaml"

# Every policy on the same 100 eval prompts (sampled, same seed): mean gold reward, win rate against SFT, KL to SFT.
sentinel compare runs/sft runs/dpo runs/ppo runs/grpo --prompts lab/data/eval.jsonl --gold lab --max-rows 100 \
    --out compare
echo "models, metrics.jsonl and resolved configs: $PWD/runs/"
