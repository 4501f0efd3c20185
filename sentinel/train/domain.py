"""Domain adaptation: continued causal-LM training on raw text, with perplexity before and after.

Documents (`sentinel.data.documents`: a text file, a folder of them, a table with a text column, a saved dataset)
are split into train and held-out **by document**, tokenized, followed by EOS, and cut into blocks of `block_size`
tokens every `stride` tokens, on transformers' `Trainer` (TRL's SFTTrainer adds nothing for raw text here).

- `packing: true` (default, what continued pre-training does): the documents are concatenated and cut into blocks,
  so a block can hold the end of one document and the start of the next, separated by EOS; attention crosses that
  boundary (no per-document mask: the models this targets run SDPA or eager attention, where TRL's padding-free
  packing does not separate documents either).
- `packing: false`: each document is cut into its own blocks; no block spans two documents (no leak at all), at the
  cost of padding the last block of each.

The run reports what the user asks: perplexity on the held-out documents before and after training
(`domain_perplexity_before`, `domain_perplexity`), and on a general held-out set (`general_eval_file`) to show what
was forgotten (`general_perplexity_before`, `general_perplexity`, `general_perplexity_ratio` = after / before),
with the sliding window of `sentinel.models.perplexity` (`eval_stride`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from .stage import TrainConfig, TrainResult, load_policy, quiet_mode, run_stage, training_kwargs


@dataclass
class DomainConfig(TrainConfig):
    """Continued pre-training of a causal LM on raw text (`train_file`: a file, a folder, a table)."""

    eval_fraction: float | None = field(default=None, metadata={  # type: ignore[assignment]  # None: decided later
        "help": "share of the documents held out (whole documents, never blocks); default 0.1 without eval_file, "
                "0 with one"})
    text_field: str = field(default="text", metadata={"help": "column holding the text in JSONL/CSV/Parquet/datasets"})
    include: list[str] = field(default_factory=lambda: ["*.txt", "*.md"], metadata={
        "help": "file patterns read from a folder (recursive; matched against the path under the folder or the name)"})
    exclude: list[str] = field(default_factory=list, metadata={"help": "file patterns left out of a folder"})
    separator: str | None = field(default=None, metadata={
        "help": "text that separates documents inside one text file (default: a file is one document)"})
    block_size: int = field(default=256, metadata={"help": "tokens per training block (at most the model's context)"})
    stride: int | None = field(default=None, metadata={
        "help": "tokens between the starts of consecutive training blocks (default: block_size, no overlap)"})
    packing: bool = field(default=True, metadata={
        "help": "concatenate documents (EOS between) before cutting blocks; false: each document in its own blocks"})
    eval_stride: int | None = field(default=None, metadata={
        "help": "sliding-window stride of the perplexity evaluation (default: half the block)"})
    general_eval_file: str | None = field(default=None, metadata={
        "help": "general text (same formats) whose perplexity before and after shows what the model forgot"})

    def validate(self) -> None:
        if self.eval_fraction is None:
            self.eval_fraction = 0.0 if self.eval_file else 0.1
        super().validate()
        if self.block_size < 2:
            raise ConfigError(f"got {self.block_size}; expected at least 2 tokens", field="block_size")
        for name in ("stride", "eval_stride"):
            v = getattr(self, name)
            if v is not None and not 1 <= v <= self.block_size:
                raise ConfigError(f"got {v}; expected 1 to block_size ({self.block_size})", field=name)
        if self.general_eval_file and not Path(self.general_eval_file).exists():
            raise ConfigError(f"data file not found: {self.general_eval_file}", field="general_eval_file")


def token_blocks(texts: list[str], tokenizer, block_size: int, stride: int, packing: bool) -> list[list[int]]:
    """Token blocks for training (module docstring). Every token lands in a block; a last block may be shorter."""
    eos = tokenizer.eos_token_id
    docs = [tokenizer(t, add_special_tokens=False)["input_ids"] + ([eos] if eos is not None else []) for t in texts]
    streams = [[i for d in docs for i in d]] if packing else docs
    out = []
    for ids in streams:
        for begin in range(0, len(ids), stride):
            block = ids[begin:begin + block_size]
            if len(block) >= 2:
                out.append(block)
            if begin + block_size >= len(ids):
                break
    return out


def _collate(pad_id: int):
    def collate(rows):
        import torch

        width = max(len(r["input_ids"]) for r in rows)
        ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for j, r in enumerate(rows):
            n = len(r["input_ids"])
            ids[j, :n] = torch.tensor(r["input_ids"])
            mask[j, :n] = 1
        labels = ids.masked_fill(mask == 0, -100)  # padding is never a target (EOS inside a block is)
        return {"input_ids": ids, "attention_mask": mask, "labels": labels}

    return collate


def _read(cfg: DomainConfig, source: str):
    from ..data.documents import read_documents

    return read_documents(source, text_field=cfg.text_field, include=cfg.include, exclude=cfg.exclude,
                          separator=cfg.separator, skip_invalid=cfg.skip_invalid)


def _perplexities(cfg: DomainConfig, model, tokenizer, domain_texts: list[str], general: list[str],
                  suffix: str) -> dict:
    from ..models.perplexity import perplexity

    out = {}
    for name, texts in (("domain", domain_texts), ("general", general)):
        if texts:
            r = perplexity(model, texts, tokenizer=tokenizer, block_size=cfg.block_size, stride=cfg.eval_stride,
                           batch_size=cfg.per_device_eval_batch_size)
            out[f"{name}_perplexity{suffix}"] = r["perplexity"]
            out[f"{name}_tokens_scored"] = r["tokens_scored"]
    return out


def domain(cfg: DomainConfig, *, model=None, tokenizer=None, callbacks: list | None = None) -> TrainResult:
    """Continue causal-LM training of `cfg.model` on `cfg.train_file`; returns the run with its perplexities."""
    from datasets import Dataset
    from transformers import Trainer, TrainingArguments

    from ..data.documents import split_documents

    quiet_mode(cfg)
    model, tokenizer = load_policy(cfg, model, tokenizer)
    context = getattr(model.config, "max_position_embeddings", None)
    if context and cfg.block_size > context:
        raise ConfigError(f"got {cfg.block_size}; the model's context is {context} tokens", field="block_size")
    docs = _read(cfg, cfg.train_file)
    summary: dict[str, Any] = {"train": docs.summary()}
    if cfg.max_rows is not None and len(docs.documents) > cfg.max_rows:
        summary["train"]["documents_not_used_max_rows"] = len(docs.documents) - cfg.max_rows
        docs.documents = docs.documents[:cfg.max_rows]
    if cfg.eval_file:
        train_docs, held_docs = docs.documents, _read(cfg, cfg.eval_file).documents
    else:
        train_docs, held_docs = split_documents(docs.documents, cfg.eval_fraction or 0.0, cfg.seed)
    general = [d.text for d in _read(cfg, cfg.general_eval_file).documents] if cfg.general_eval_file else []
    stride = cfg.stride or cfg.block_size
    train_blocks = token_blocks([d.text for d in train_docs], tokenizer, cfg.block_size, stride, cfg.packing)
    held_blocks = token_blocks([d.text for d in held_docs], tokenizer, cfg.block_size, cfg.block_size, cfg.packing)
    summary["train"].update(rows_read=len(docs.documents), rows_skipped=len(docs.skipped),
                            train_documents=len(train_docs), train_tokens=sum(map(len, train_blocks)),
                            train_blocks=len(train_blocks))
    summary["held_out"] = {"documents": len(held_docs), "sources": [d.source for d in held_docs][:50],
                           "blocks": len(held_blocks)}
    summary["general"] = {"source": cfg.general_eval_file, "documents": len(general)}
    summary["packing"] = ("documents concatenated, EOS between; attention crosses document boundaries in a block"
                          if cfg.packing else "each document in its own blocks")
    held_texts = [d.text for d in held_docs]
    before = _perplexities(cfg, model, tokenizer, held_texts, general, "_before")
    summary["before"] = before

    def build():
        kw = training_kwargs(cfg)
        kw["remove_unused_columns"] = False
        if tokenizer.pad_token_id is None and tokenizer.eos_token_id is None:
            raise ConfigError("the tokenizer has neither a pad nor an EOS token", field="tokenizer")
        pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
        return Trainer(model=model, args=TrainingArguments(**kw),
                       train_dataset=Dataset.from_dict({"input_ids": train_blocks}),
                       eval_dataset=Dataset.from_dict({"input_ids": held_blocks}) if held_blocks else None,
                       data_collator=_collate(pad), processing_class=tokenizer)

    def evaluate(trainer):
        after = _perplexities(cfg, trainer.model, tokenizer, held_texts, general, "")
        out = {**before, **after}
        if "general_perplexity" in out:
            out["general_perplexity_ratio"] = out["general_perplexity"] / out["general_perplexity_before"]
        if "domain_perplexity" in out:
            out["domain_perplexity_ratio"] = out["domain_perplexity"] / out["domain_perplexity_before"]
        return out

    if cfg.lora_r:
        from peft import get_peft_model

        from .stage import peft_config

        model = get_peft_model(model, peft_config(cfg, "CAUSAL_LM"))
    return run_stage(cfg, build, summary, evaluate=evaluate, callbacks=callbacks)
