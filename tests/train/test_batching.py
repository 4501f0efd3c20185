"""`sort_micro_batches`: each optimiser step keeps a random draw of examples, its micro-batches are cut by length."""

from __future__ import annotations

import json

import pytest

from sentinel.train.batching import StepSortedSampler, example_lengths


def test_each_step_is_a_chunk_of_one_permutation_sorted_by_length():
    lengths = [(7 * i) % 23 for i in range(100)]
    sampler = StepSortedSampler(lengths, step=16, seed=3)
    order = list(sampler)
    assert sorted(order) == list(range(100))  # every example once per epoch
    chunks = [order[i:i + 16] for i in range(0, 100, 16)]
    assert all([lengths[i] for i in c] == sorted(lengths[i] for i in c) for c in chunks)
    # the draw is random (not the length-sorted data set cut into steps) ...
    assert any(max(lengths[i] for i in c) - min(lengths[i] for i in c) > 11 for c in chunks)
    # ... each epoch has its own order, and an epoch's order is the same on a resumed run (a new sampler)
    sampler.set_epoch(1)
    assert list(sampler) != order
    again = StepSortedSampler(lengths, step=16, seed=3)
    again.set_epoch(1)
    assert list(again) == list(sampler)


def test_lengths_of_sft_reward_and_dpo_rows():
    from datasets import Dataset

    assert example_lengths(Dataset.from_list([{"input_ids": [1, 2, 3]}])) == [3]
    assert example_lengths(Dataset.from_list([{"chosen_ids": [1, 2], "rejected_ids": [1, 2, 3, 4]}])) == [4]
    assert example_lengths(Dataset.from_list([{"prompt_ids": [9, 9], "chosen_ids": [1], "rejected_ids": [1, 2]}])) \
        == [4]
    with pytest.raises(ValueError, match="no token ids"):
        example_lengths(Dataset.from_list([{"text": "a"}]))


def test_a_trainer_without_token_ids_or_accumulation_keeps_its_sampler():
    """GRPO's prompts carry no token ids (its own sampler groups them); one micro-batch per step has nothing to sort."""
    from types import SimpleNamespace

    from datasets import Dataset

    from sentinel.train.batching import sort_micro_batches

    def trainer(accumulation: int, rows: list[dict]):
        args = SimpleNamespace(per_device_train_batch_size=4, gradient_accumulation_steps=accumulation, world_size=1,
                               data_seed=None, seed=0)
        return SimpleNamespace(args=args, train_dataset=Dataset.from_list(rows))

    prompts = trainer(4, [{"prompt": "What is 2 + 2?"}] * 8)
    assert not sort_micro_batches(prompts) and "_get_train_sampler" not in vars(prompts)
    single = trainer(1, [{"input_ids": [1, 2, 3]}] * 8)
    assert not sort_micro_batches(single) and "_get_train_sampler" not in vars(single)
    ids = trainer(4, [{"input_ids": [1] * (i % 5 + 1)} for i in range(8)])
    assert sort_micro_batches(ids)
    assert isinstance(ids._get_train_sampler(), StepSortedSampler)


@pytest.mark.parametrize("stage", ["reward", "sft"])
def test_the_trainer_pads_each_micro_batch_to_its_own_length(stage, tmp_path, tiny_tokenizer):
    """Through a real TRL trainer: with the option, each step's micro-batches come in rising length and the padded
    tokens of the whole run fall; without it, they do not."""
    from sentinel.models import build_causal_lm, build_reward_model
    from sentinel.train import RewardConfig, SFTConfig, reward, sft

    filler = "and then some more words "
    rows = [(f"What is {i % 10} + 1?", f"The answer is {i % 10 + 1}. " + filler * (i % 7), "No.")
            for i in range(64)]
    data = tmp_path / "rows.jsonl"
    data.write_text("".join(json.dumps({"prompt": p, "chosen": c, "rejected": r} if stage == "reward"
                                       else {"prompt": p, "completion": c}) + "\n" for p, c, r in rows))

    def run(sort: bool) -> list[int]:
        widths: list[int] = []
        model = (build_reward_model if stage == "reward" else build_causal_lm)(tiny_tokenizer, seed=0)
        model.register_forward_pre_hook(lambda m, args, kw: widths.append(kw["input_ids"].shape[1]) if m.training
                                        else None, with_kwargs=True)
        kw = {"model": "tiny", "train_file": str(data), "output_dir": str(tmp_path / f"out-{sort}"), "max_steps": 4,
              "per_device_train_batch_size": 4, "gradient_accumulation_steps": 4, "sort_micro_batches": sort,
              "save_steps": 1000, "quiet": True, "seed": 0}
        if stage == "reward":
            reward(RewardConfig(**kw), model=model, tokenizer=tiny_tokenizer)
        else:
            sft(SFTConfig(**kw), model=model, tokenizer=tiny_tokenizer)
        return widths

    sorted_widths, plain_widths = run(True), run(False)
    assert len(sorted_widths) == len(plain_widths) == 16
    steps = [sorted_widths[i:i + 4] for i in range(0, 16, 4)]
    assert all(s == sorted(s) for s in steps)
    assert sum(sorted_widths) < 0.85 * sum(plain_widths)
