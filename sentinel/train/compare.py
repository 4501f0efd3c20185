"""Compare policies ("DPO vs SFT-only"): generate from each model on the same prompts and score the replies.

Per model: mean reward (a reward model or any reward function), win rate against the first model (ties count half),
KL to a reference model, and mean reply length. Results are a `Report` (report.json/.html/.md via `.save`).

KL is estimated by Monte Carlo on the sampled replies: KL(pi || ref) ~ mean over prompts of
sum_t [log pi(y_t | x, y_<t) - log ref(y_t | x, y_<t)], in nats per reply. It needs the models to share the
reference's vocabulary, and is only an unbiased estimate when replies are sampled (not greedy).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError, DataError
from ..report import Effect, Finding, Report, Severity

if TYPE_CHECKING:
    from ..models.reward_fn import RewardFunction
    from .models.protocols import DataSource

logger = logging.getLogger(__name__)


@dataclass
class CompareConfig:
    """How replies are generated and scored."""

    max_new_tokens: int = field(default=48, metadata={"help": "reply length cap in tokens"})
    do_sample: bool = field(default=True, metadata={
        "help": "sample replies (needed for an unbiased KL); false = greedy"})
    temperature: float = field(default=1.0, metadata={"help": "sampling temperature"})
    top_p: float = field(default=1.0, metadata={"help": "nucleus sampling threshold"})
    batch_size: int = field(default=16, metadata={"help": "prompts per generation batch"})
    max_rows: int | None = field(default=None, metadata={"help": "use at most this many prompts"})
    seed: int = field(default=0, metadata={"help": "sampling seed (the same for every model)"})

    def __post_init__(self) -> None:
        for name in ("max_new_tokens", "batch_size", "temperature", "top_p"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"got {getattr(self, name)}; expected a number > 0", field=name)
        if self.top_p > 1:
            raise ConfigError(f"got {self.top_p}; expected a number in (0, 1]", field="top_p")
        if self.max_rows is not None and self.max_rows <= 0:
            raise ConfigError(f"got {self.max_rows}; expected a positive integer", field="max_rows")


# ------------------------------------------------------------------------------------------------- prompts


def load_prompts(source: Any, limit: int | None = None) -> list[str | list[dict]]:
    """Prompts from a list, or a file whose rows hold `prompt` (text or messages) or any data format. A single user
    turn becomes its text; a conversation (earlier turns, then the user's) stays a list of messages."""
    from ..data import load, read_rows
    from ..data.formats import simple_prompt

    if isinstance(source, (list, tuple)):
        prompts = [p if isinstance(p, list) else str(p) for p in source]
    else:
        rows = read_rows(source)
        # A prompt file: every row has `prompt` and no reply (other columns, e.g. a gold answer, are ignored).
        replies = {"completion", "chosen", "rejected", "response", "messages", "output"}
        if rows.rows and all("prompt" in r and not replies & set(r) for r in rows.rows):
            prompts = []
            for i, r in enumerate(rows.rows):
                p = r["prompt"]
                try:
                    p = simple_prompt(p) if isinstance(p, list) else p
                except DataError as e:
                    reason = f"expected a non-empty prompt (text or messages): {e.reason}"
                    raise rows.error(i, reason, "prompt") from None
                if not (isinstance(p, list) or (isinstance(p, str) and p.strip())):
                    raise rows.error(i, "expected a non-empty prompt (text or messages)", "prompt")
                prompts.append(p)
        else:
            loaded = load(source)
            prompts = [simple_prompt(e["prompt"] if "prompt" in e else e["messages"][:-1]) for e in loaded.examples]
    prompts = prompts[:limit] if limit else prompts
    if not prompts:
        raise DataError("no prompts to compare on", path=None if isinstance(source, (list, tuple)) else source)
    return prompts


# ------------------------------------------------------------------------------------------------ generation


def policy_text(tokenizer, prompt: str | list[dict]) -> str:
    """The text a policy is conditioned on: its chat template with the generation prompt, else 'prompt\\n\\n'
    (the same layout `sentinel train sft` uses for tokenizers without a template). `prompt`: a string (one user
    turn) or a conversational prompt (messages ending with a user turn), rendered turn by turn."""
    from ..data.formats import as_messages, prompt_text

    msgs = as_messages(prompt)
    if getattr(tokenizer, "chat_template", None):
        return tokenizer.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True)
    return prompt_text(msgs) + "\n\n"


def generate(model, tokenizer, prompts: Sequence[str | list[dict]],
             cfg: CompareConfig) -> tuple[list[str], list[list[int]]]:
    """(reply texts, reply token ids) for each prompt. Left padding so every reply starts at the same column."""
    import torch

    device = next(model.parameters()).device
    old_side = tokenizer.padding_side
    tokenizer.padding_side = "left"
    texts, ids = [], []
    torch.manual_seed(cfg.seed)
    try:
        for start in range(0, len(prompts), cfg.batch_size):
            batch = [policy_text(tokenizer, p) for p in prompts[start : start + cfg.batch_size]]
            enc = tokenizer(batch, return_tensors="pt", padding=True, add_special_tokens=False).to(device)
            with torch.inference_mode():
                out = model.generate(**enc, max_new_tokens=cfg.max_new_tokens, do_sample=cfg.do_sample,
                                     temperature=cfg.temperature if cfg.do_sample else None,
                                     top_p=cfg.top_p if cfg.do_sample else None,
                                     pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id)
            for row in out[:, enc["input_ids"].shape[1]:].tolist():
                reply = _until_eos(row, tokenizer)
                ids.append(reply)
                texts.append(tokenizer.decode(reply, skip_special_tokens=True).strip())
    finally:
        tokenizer.padding_side = old_side
    return texts, ids


def _until_eos(row: list[int], tokenizer) -> list[int]:
    """Reply tokens up to and including the first EOS (padding after it dropped)."""
    eos = tokenizer.eos_token_id
    return row[: row.index(eos) + 1] if eos is not None and eos in row else row


def reply_logprobs(model, tokenizer, prompts: Sequence[str | list[dict]], replies: Sequence[list[int]],
                   batch_size: int = 16) -> list[float]:
    """Sum of log p(reply token | prompt, earlier reply tokens) under `model`, one float (nats) per reply."""
    import torch

    device = next(model.parameters()).device
    out = []
    for start in range(0, len(prompts), batch_size):
        ctx = [tokenizer(policy_text(tokenizer, p), add_special_tokens=False)["input_ids"]
               for p in prompts[start : start + batch_size]]
        rep = list(replies[start : start + batch_size])
        seqs = [c + r for c, r in zip(ctx, rep)]
        width = max(len(s) for s in seqs)
        pad = tokenizer.pad_token_id or 0
        input_ids = torch.tensor([s + [pad] * (width - len(s)) for s in seqs], device=device)  # (B, T)
        mask = torch.tensor([[1] * len(s) + [0] * (width - len(s)) for s in seqs], device=device)
        with torch.inference_mode():
            logits = model(input_ids=input_ids, attention_mask=mask).logits.float()  # (B, T, V)
        logp = torch.log_softmax(logits[:, :-1], dim=-1).gather(-1, input_ids[:, 1:, None])[..., 0]  # (B, T-1)
        for i, (c, r) in enumerate(zip(ctx, rep)):
            # token t of the sequence is predicted at position t-1
            out.append(float(logp[i, len(c) - 1 : len(c) - 1 + len(r)].sum()) if r else 0.0)
    return out


# -------------------------------------------------------------------------------------------------- compare


def _label(model: Any, i: int, used: set[str]) -> str:
    """The model's folder name (or `model<i+1>` when loaded), suffixed `#2`, `#3`, ... when already in `used`."""
    name = Path(model).name or str(model) if isinstance(model, (str, os.PathLike)) else f"model{i + 1}"
    label, n = name, 2
    while label in used:
        label, n = f"{name}#{n}", n + 1
    used.add(label)
    return label


def _labels(models: Sequence[Any]) -> list[str]:
    """One distinct label per model, in order."""
    used: set[str] = set()
    return [_label(m, i, used) for i, m in enumerate(models)]


def _load_policy(model: Any, load_kw: dict[str, Any]) -> tuple[Any, Any]:
    """(model, tokenizer): a loaded pair as given, else loaded from its folder with `load_kw`."""
    from ..models import load_causal_lm

    if isinstance(model, tuple):
        return model
    return load_causal_lm(model, **load_kw)


def _reply_kl(label: str, policy: tuple[Any, Any], ref: tuple[Any, Any], prompts: Sequence[str | list[dict]],
              ids: Sequence[list[int]], batch_size: int) -> list[float] | None:
    """log pi(reply) - log ref(reply) per reply (nats), or None when the vocabularies differ."""
    (model, tok), (ref_model, ref_tok) = policy, ref
    if len(tok) == len(ref_tok) and tok.get_vocab() == ref_tok.get_vocab():
        lp = reply_logprobs(model, tok, prompts, ids, batch_size)
        lp_ref = reply_logprobs(ref_model, ref_tok, prompts, ids, batch_size)
        return [a - b for a, b in zip(lp, lp_ref)]
    logger.warning("%s: vocabulary differs from the reference's; KL not computed", label)
    return None


def _run_models(models: Sequence[Any], labels: list[str], reference: Any, prompts: list[str | list[dict]],
                score: RewardFunction, cfg: CompareConfig, load_kw: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Per label: the model's `replies`, their `rewards`, `lengths` (tokens) and per-reply `kl` (or None)."""
    ref = _load_policy(reference if reference is not None else models[0], load_kw)
    results: dict[str, dict[str, Any]] = {}
    for label, m in zip(labels, models):
        model, tok = _load_policy(m, load_kw)
        model.eval()
        texts, ids = generate(model, tok, prompts, cfg)
        rewards = score(prompts, texts)
        kl = _reply_kl(label, (model, tok), ref, prompts, ids, cfg.batch_size)
        results[label] = {"replies": texts, "rewards": rewards, "lengths": [len(x) for x in ids], "kl": kl}
    return results


def _model_metrics(label: str, r: dict[str, Any], seed: int) -> dict[str, Any]:
    """`label/mean_reward` (with its bootstrap CI), `label/kl` (mean, nats) and `label/mean_length` (tokens)."""
    from ..report.stats import bootstrap_ci

    mean_r, lo_r, hi_r = bootstrap_ci(r["rewards"], seed=seed)
    return {f"{label}/mean_reward": mean_r, f"{label}/mean_reward_ci": [lo_r, hi_r],
            f"{label}/kl": sum(r["kl"]) / len(r["kl"]) if r["kl"] is not None else None,
            f"{label}/mean_length": sum(r["lengths"]) / len(r["lengths"])}


def _versus_baseline(label: str, base: str, results: dict[str, dict[str, Any]], prompts: list[str | list[dict]],
                     metrics: dict[str, Any], seed: int) -> Finding:
    """Win rate of `label` against `base` into `metrics` (`label/win_rate`, `label/win_rate_ci`); the finding."""
    from ..report.stats import bootstrap_ci

    r, rb = results[label], results[base]
    outcomes = [1.0 if a > b else 0.5 if a == b else 0.0 for a, b in zip(r["rewards"], rb["rewards"])]
    win, lo, hi = bootstrap_ci(outcomes, seed=seed)
    metrics[f"{label}/win_rate"] = win
    metrics[f"{label}/win_rate_ci"] = [lo, hi]
    better = lo > 0.5
    worse = hi < 0.5
    verdict = "beats" if better else "loses to" if worse else "is not distinguishable from"
    best = max(range(len(prompts)), key=lambda i: r["rewards"][i] - rb["rewards"][i])
    return Finding(
        id=f"compare.{label}",
        severity=Severity.INFO,
        description=f"{label} {verdict} {base}: win rate {win:.2f} (95% CI {lo:.2f}-{hi:.2f}), mean reward "
                    f"{metrics[f'{label}/mean_reward']:.3f} vs {metrics[f'{base}/mean_reward']:.3f}",
        score=win, confidence=1.0 if (better or worse) else 0.5,
        effect=Effect("win_rate", win, lo, hi),
        evidence=[{"prompt": prompts[best], label: r["replies"][best], base: rb["replies"][best],
                   "rewards": [r["rewards"][best], rb["rewards"][best]]}],
        data={"wins": sum(o == 1.0 for o in outcomes), "ties": sum(o == 0.5 for o in outcomes),
              "losses": sum(o == 0.0 for o in outcomes)},
    )


def _metrics_and_findings(labels: list[str], results: dict[str, dict[str, Any]], prompts: list[str | list[dict]],
                          seed: int) -> tuple[dict[str, Any], list[Finding]]:
    """The report's metrics (per model, keyed `label/...`) and one finding per model against the first."""
    base = labels[0]
    metrics: dict[str, Any] = {"prompts": len(prompts), "baseline": base}
    findings = []
    for label in labels:
        metrics.update(_model_metrics(label, results[label], seed))
        if label == base:
            metrics[f"{label}/win_rate"] = 0.5
        else:
            findings.append(_versus_baseline(label, base, results, prompts, metrics, seed))
    return metrics, findings


def _report(models: Sequence[Any], labels: list[str], reference: Any, n_prompts: int, scorer: str, cfg: CompareConfig,
            metrics: dict[str, Any], findings: list[Finding]) -> Report:
    """The compare `Report`: title, config and notes around the metrics and findings."""
    base = labels[0]
    return Report(
        kind="compare", title=f"compare {', '.join(labels)} on {n_prompts} prompts ({scorer})",
        findings=findings, metrics=metrics, seed=cfg.seed,
        config={"models": [str(m) if isinstance(m, (str, os.PathLike)) else label for m, label in zip(models, labels)],
                "scorer": scorer, "reference": str(reference) if reference is not None else base,
                **dict(vars(cfg).items())},
        notes=[f"win rate: share of prompts where the model's reply scores higher than {base}'s (ties count half)",
               "kl: Monte Carlo estimate of KL(model || reference) in nats per reply"
               + ("" if cfg.do_sample else " (greedy replies: biased estimate)")],
    )


def compare(
    models: Sequence[Any],
    prompts: DataSource,
    *,
    reward_model: Any = None,
    scorer_name: str | None = None,
    reference: Any = None,
    config: CompareConfig | None = None,
    device: str | None = None,
    allow_pickle: bool = False,
    trust_remote_code: bool = False,
) -> Report:
    """Generate from every model on `prompts` and score the replies; the first model is the baseline.

    `models`: folders or loaded (model, tokenizer) pairs. `reward_model`: anything `as_reward_fn` takes (a reward
    model folder, a loaded model, a `module:function` name or a function such as the lab's gold grader
    `sentinel.lab.gold_rewards`); `scorer_name` labels it in the report. `reference`: model for the KL column
    (default: the first model).
    Returns a Report whose metrics hold, per model label, `mean_reward`, `win_rate` (vs the baseline, ties
    count half), `kl` (nats per reply), `mean_length` (reply tokens); one finding per model vs the baseline.
    """
    from ..models import as_reward_fn

    cfg = config or CompareConfig()
    if len(models) < 2:
        raise ConfigError("give at least two models to compare", field="models")
    if reward_model is None:
        raise ConfigError("give a reward model or reward function to score the replies with", field="reward_model")
    score = as_reward_fn(reward_model, device=device, allow_pickle=allow_pickle, trust_remote_code=trust_remote_code)
    prompt_list = load_prompts(prompts, cfg.max_rows)
    labels = _labels(models)
    load_kw = {"device": device, "allow_pickle": allow_pickle, "trust_remote_code": trust_remote_code}
    results = _run_models(models, labels, reference, prompt_list, score, cfg, load_kw)
    metrics, findings = _metrics_and_findings(labels, results, prompt_list, cfg.seed)
    scorer = scorer_name or f"reward model {getattr(score, 'name', 'reward')}"
    return _report(models, labels, reference, len(prompt_list), scorer, cfg, metrics, findings)


def table_rows(report: Report) -> list[tuple]:
    """(model, mean reward, win rate, KL, mean length) rows of a compare report, for printing."""
    m = report.metrics
    labels = [k[: -len("/mean_reward")] for k in m if k.endswith("/mean_reward")]
    return [(lab, m[f"{lab}/mean_reward"], m[f"{lab}/win_rate"],
             m[f"{lab}/kl"] if m[f"{lab}/kl"] is not None else "n/a", m[f"{lab}/mean_length"]) for lab in labels]
