"""Micro-batches of similar length inside each optimiser step (`TrainConfig.sort_micro_batches`).

A step of `batch size x gradient_accumulation_steps x processes` examples is drawn at random, as usual, then ordered
by length before it is cut into its micro-batches, so each micro-batch is padded only to the length of its own longest
example. The step holds the same examples as it would unsorted, so the gradient it follows is the same in expectation
(exactly the same where the loss is normalised over the whole step, as transformers does for causal LMs; TRL's
reward and DPO losses average each micro-batch, and the micro-batches are of equal size). What changes is the padding,
and with it the time of a step (`benchmarks/micro_batches.py`; docs/benchmarks.md, "Sorted micro-batches").

Why not transformers' own samplers: `group_by_length` sorts whole mega-batches, so one step holds examples of one
length (and, in the lab, often of one kind), and a lab reward model trained that way ranks its policy's samples
worse; `batch_rebalance` keeps the step but gives its micro-batches different sizes, which weights the examples of
per-micro-batch averaged losses (reward, DPO) unequally. This sampler is the few lines between the two. It applies to
data of token ids (SFT, reward, DPO, task and language-model stages); GRPO and RLOO sample prompts in groups of
their own and keep their sampler.
"""

from __future__ import annotations

import logging
import types

logger = logging.getLogger(__name__)


def example_lengths(dataset) -> list[int]:
    """Tokens of each tokenized training example as it will be padded: `input_ids` (SFT), or a preference pair's
    prompt plus its longer side (`prompt_ids` + `chosen_ids` / `rejected_ids`, TRL's reward and DPO columns)."""
    columns = set(dataset.column_names)
    if "input_ids" in columns:
        return [len(ids) for ids in dataset["input_ids"]]
    sides = [[len(ids) for ids in dataset[k]] for k in ("chosen_ids", "rejected_ids") if k in columns]
    if not sides:
        raise ValueError(f"no token ids to measure among the columns {sorted(columns)}")
    longer = [max(lens) for lens in zip(*sides)]
    if "prompt_ids" in columns:
        return [len(p) + n for p, n in zip(dataset["prompt_ids"], longer)]
    return longer


class StepSortedSampler:
    """Indices of a random permutation (seeded by `seed` and the epoch) whose consecutive chunks of `step` indices
    are each sorted by `lengths`, so the data loader's micro-batches cut from one chunk are of similar length."""

    def __init__(self, lengths: list[int], step: int, seed: int = 0):
        if step < 1:
            raise ValueError(f"step must be at least 1, got {step}")
        self.lengths = list(lengths)
        self.step = step
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Called by the trainer at each epoch: every epoch has its own order, the same on a resumed run."""
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.lengths)

    def __iter__(self):
        import torch

        gen = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
        order = torch.randperm(len(self.lengths), generator=gen).tolist()
        for start in range(0, len(order), self.step):
            yield from sorted(order[start:start + self.step], key=lambda i: self.lengths[i])


def sort_micro_batches(trainer) -> bool:
    """Make `trainer` (a transformers/TRL Trainer) draw its training examples through `StepSortedSampler`.

    Returns False, leaving the trainer as it is, where it would change nothing or cannot apply: one micro-batch per
    step, a training set that is not a sized `datasets.Dataset` (a streamed one keeps its own order), or one without
    token ids to measure (GRPO's and RLOO's prompts).
    """
    args = trainer.args
    step = args.per_device_train_batch_size * args.gradient_accumulation_steps * max(1, args.world_size)
    if args.gradient_accumulation_steps * max(1, args.world_size) < 2:
        logger.warning("sort_micro_batches: one micro-batch per step, nothing to sort (set "
                       "gradient_accumulation_steps > 1)")
        return False
    dataset = trainer.train_dataset
    if not (hasattr(dataset, "column_names") and hasattr(dataset, "__len__")):
        logger.warning("sort_micro_batches: the training data is streamed; its order is kept")
        return False
    try:
        lengths = example_lengths(dataset)
    except ValueError as e:  # e.g. GRPO's prompts: its own sampler groups them
        logger.warning("sort_micro_batches: %s; the trainer's own order is kept", e)
        return False

    def _get_train_sampler(self, train_dataset=None):  # the Trainer hook for a custom sampler
        return StepSortedSampler(lengths, step, seed=self.args.data_seed if self.args.data_seed is not None
                                 else self.args.seed)

    trainer._get_train_sampler = types.MethodType(_get_train_sampler, trainer)
    return True
