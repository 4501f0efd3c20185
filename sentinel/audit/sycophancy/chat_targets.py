"""Chat targets: one interface over the three kinds of model a sycophancy audit talks to.

- `CallableTarget`: any `fn(messages) -> str` (messages are {"role", "content"} dicts);
- `HFChatTarget`: a causal LM with a chat template, batched greedy generation, and `score_options`, which ranks
  given answers by their mean per-token log-probability without generating;
- `EndpointTarget`: an OpenAI-compatible `/chat/completions` endpoint over `urllib` (standard library only, so
  auditing a deployed model needs no extra dependency).

`generate(conversations)` returns one reply per conversation. A reply that could not be obtained is a
`Failure` (a `str` subclass, so it grades as an empty, unclear reply) carrying the error, so one bad call never
ends a report; the detector stops after too many failures in a row.
"""

from __future__ import annotations

import http.client
import json
import logging
import os
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Union

from ...errors import ConfigError, ModelLoadError, SentinelError
from ...models.protocols import Messages

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

    from ..models.protocols import TokenizerSource

logger = logging.getLogger(__name__)


class TargetError(SentinelError):
    """The model under audit could not answer (endpoint down, garbage replies, too many failures)."""


ChatSource = Union[str, "os.PathLike[str]", "ChatTarget", Callable[[Messages], str], "PreTrainedModel",
                   "tuple[PreTrainedModel, PreTrainedTokenizerBase]"]
"""What `as_chat_target` accepts: a model folder, a `ChatTarget` (e.g. `EndpointTarget`), a function
`fn(messages) -> reply`, a loaded causal LM (with its tokenizer given or loadable), or a (model, tokenizer) pair."""

class Failure(str):
    """An empty reply that records why no reply came back."""

    error: str

    def __new__(cls, error: str) -> Failure:
        obj = super().__new__(cls, "")
        obj.error = error
        return obj


class ChatTarget:
    """The contract: `generate(conversations, max_new_tokens) -> list[str]`; `score_options` is optional."""

    name = "target"
    supports_logprobs = False

    def generate(self, conversations: list[Messages], max_new_tokens: int = 64) -> list[str]:
        raise NotImplementedError

    def score_options(self, conversations: list[Messages], options: list[list[str]]) -> list[list[float]]:
        """Mean log-probability per token (nats) of each option as the assistant's next reply."""
        raise NotImplementedError(f"{type(self).__name__} cannot score options")

    def identity(self) -> dict[str, Any]:
        return {"target": self.name}


class CallableTarget(ChatTarget):
    """Wraps `fn(messages) -> str`. Exceptions other than KeyboardInterrupt become `Failure` replies."""

    def __init__(self, fn: Callable[[Messages], str]):
        self.fn = fn
        self.name = f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', type(fn).__name__)}"

    def generate(self, conversations, max_new_tokens=64):
        out = []
        for messages in conversations:
            try:
                reply = self.fn([dict(m) for m in messages])
            except Exception as e:  # a user's model failing on one prompt must not end the report
                out.append(Failure(f"{type(e).__name__}: {e}"))
                continue
            out.append(reply if isinstance(reply, str) else Failure(
                f"the callable returned {type(reply).__name__}, expected str"))
        return out

    def identity(self):
        return {"callable": self.name}


RETRY_STATUS = (408, 425, 429, 500, 502, 503, 504)  # worth another try: overload, rate limit, gateway trouble
MAX_RETRY_AFTER = 60.0  # seconds: a longer Retry-After is capped (the audit should not hang on one item)


class EndpointTarget(ChatTarget):
    """An OpenAI-compatible chat endpoint. `url` is the base ("http://host:8000/v1") or the full
    ".../chat/completions" address. Replies are requested at temperature 0, `concurrency` at a time, and come back
    stripped of surrounding whitespace (as `HFChatTarget`'s do).

    A call that times out, cannot connect, or gets HTTP 408/425/429/5xx is tried again up to `retries` times, after
    the server's `Retry-After` (seconds, at most 60) or an exponential backoff (`backoff` x 2^attempt); a reply
    that still did not come is a `Failure` saying how many attempts were made. `self.retried` counts the retries."""

    def __init__(self, url: str, model_name: str, *, api_key: str | None = None, timeout: float = 60.0,
                 concurrency: int = 4, temperature: float = 0.0, retries: int = 3, backoff: float = 1.0):
        if not url.startswith(("http://", "https://")):
            raise ConfigError(f"expected an http(s) URL, got {url!r}", field="endpoint")
        if not model_name:
            raise ConfigError("an endpoint needs --model-name (the 'model' field of each request)", field="model_name")
        base = url.rstrip("/")
        self.url = base if base.endswith("/chat/completions") else base + "/chat/completions"
        self.model_name = model_name
        self.api_key = api_key
        self.timeout = timeout
        self.concurrency = max(1, concurrency)
        self.temperature = temperature
        if retries < 0 or backoff < 0:
            raise ConfigError(f"retries and backoff must be >= 0, got {retries!r}, {backoff!r}", field="retries")
        self.retries, self.backoff = retries, backoff
        self.retried = 0
        self._lock = threading.Lock()
        self._sleep = time.sleep
        self.name = f"{model_name} @ {self.url}"

    def _post(self, messages: Messages, max_new_tokens: int) -> str:
        for attempt in range(self.retries + 1):
            reply, wait = self._attempt(messages, max_new_tokens)
            if wait is None or attempt == self.retries:
                break
            with self._lock:
                self.retried += 1
            self._sleep(wait if wait > 0 else self.backoff * 2 ** attempt)
        if isinstance(reply, Failure) and wait is not None:
            return Failure(f"{reply.error} (after {self.retries + 1} attempts)")
        return reply

    def _attempt(self, messages: Messages, max_new_tokens: int) -> tuple[str, float | None]:
        """(reply or Failure, None) when done; (Failure, seconds to wait or 0 for the backoff) when worth a retry."""
        body = json.dumps({"model": self.model_name, "messages": messages, "max_tokens": max_new_tokens,
                           "temperature": self.temperature}).encode()
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        req = urllib.request.Request(self.url, data=body, headers=headers, method="POST")
        deadline = time.monotonic() + self.timeout
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                raw = _read_body(resp, deadline)
        except urllib.error.HTTPError as e:
            try:
                detail = e.read(200).decode(errors="replace")
            except (OSError, http.client.HTTPException):  # the error page itself was cut short
                detail = ""
            failure = Failure(f"HTTP {e.code} from {self.url}: {detail}")
            if e.code not in RETRY_STATUS:
                return failure, None
            try:
                after = float(e.headers.get("Retry-After", "0") or 0)
            except ValueError:  # an HTTP date: use the backoff
                after = 0.0
            return failure, min(max(after, 0.0), MAX_RETRY_AFTER)
        except (urllib.error.URLError, OSError) as e:
            reason = getattr(e, "reason", e)
            return Failure(f"cannot reach {self.url}: {reason}"), 0.0
        except http.client.HTTPException as e:  # a reply cut short (IncompleteRead) or not HTTP at all
            return Failure(f"broken reply from {self.url}: {type(e).__name__}: {e}"), 0.0
        try:
            content = json.loads(raw)["choices"][0]["message"]["content"]
        except (ValueError, KeyError, IndexError, TypeError):
            return Failure(f"{self.url} did not return a chat completion (expected JSON with "
                           f"choices[0].message.content), got: {raw[:120]!r}"), None
        if not isinstance(content, str):
            return Failure(f"{self.url}: message.content is not a string"), None
        # Stripped like HFChatTarget's replies: the reply goes back to the model as the assistant turn of a
        # follow-up (push-back), and servers differ in the whitespace they leave around it.
        return content.strip(), None

    def generate(self, conversations, max_new_tokens=64):
        if len(conversations) <= 1 or self.concurrency == 1:
            return [self._post(m, max_new_tokens) for m in conversations]
        with ThreadPoolExecutor(self.concurrency) as pool:
            return list(pool.map(lambda m: self._post(m, max_new_tokens), conversations))

    def identity(self):
        return {"endpoint": self.url, "model_name": self.model_name}


# the largest reply body read from an endpoint; a chat completion is a few kB
MAX_REPLY_BYTES = 16 * 2**20


def _read_body(resp: Any, deadline: float) -> bytes:
    """The body of `resp`, read in pieces until `deadline` (time.monotonic()): a server that stalls or trickles its
    body raises TimeoutError (an OSError) at most one read timeout after the deadline, instead of holding the client
    for as long as it keeps sending. A body over MAX_REPLY_BYTES is an OSError too."""
    chunks: list[bytes] = []
    size = 0
    read = getattr(resp, "read1", resp.read)
    while True:
        if time.monotonic() > deadline:
            raise TimeoutError("the reply did not arrive within the timeout")
        chunk = read(65536)
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > MAX_REPLY_BYTES:
            raise OSError(f"the reply is larger than {MAX_REPLY_BYTES} bytes")
        chunks.append(chunk)


class HFChatTarget(ChatTarget):
    """A Hugging Face causal LM and its tokenizer, which must have a chat template.

    Generation is greedy (deterministic), left-padded, `batch_size` conversations at a time.
    """

    supports_logprobs = True

    def __init__(self, model, tokenizer, *, batch_size: int = 8):
        if not getattr(tokenizer, "chat_template", None):
            raise ModelLoadError(
                "the tokenizer has no chat template, so conversations cannot be formatted for this model. Use a "
                "chat (instruction-tuned) model, set tokenizer.chat_template, or wrap the model in a callable "
                "fn(messages) -> str that formats prompts itself."
            )
        if tokenizer.pad_token is None:
            if tokenizer.eos_token is None:
                raise ModelLoadError("the tokenizer has neither a pad nor an eos token; set tokenizer.pad_token")
            tokenizer.pad_token = tokenizer.eos_token  # only ever masked out, so any real token will do
        self.model, self.tok, self.batch_size = model, tokenizer, max(1, batch_size)
        self.name = str(getattr(getattr(model, "config", None), "_name_or_path", "") or type(model).__name__)

    def _prompt(self, messages: Messages) -> str:
        return self.tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)

    def generate(self, conversations, max_new_tokens=64):
        import torch

        out: list[str] = []
        device = next(self.model.parameters()).device
        old_side = self.tok.padding_side
        self.tok.padding_side = "left"  # decoder-only models generate after the last real token
        try:
            for start in range(0, len(conversations), self.batch_size):
                prompts = [self._prompt(m) for m in conversations[start:start + self.batch_size]]
                enc = self.tok(prompts, return_tensors="pt", padding=True, add_special_tokens=False).to(device)
                with torch.no_grad():
                    ids = self.model.generate(**enc, max_new_tokens=max_new_tokens, do_sample=False,
                                              pad_token_id=self.tok.pad_token_id, eos_token_id=self.tok.eos_token_id)
                new = ids[:, enc["input_ids"].shape[1]:]  # (B, new_tokens)
                out += [t.strip() for t in self.tok.batch_decode(new, skip_special_tokens=True)]
        finally:
            self.tok.padding_side = old_side
        return out

    def score_options(self, conversations, options):
        import torch

        device = next(self.model.parameters()).device
        pairs = [(self._prompt(m), o) for m, opts in zip(conversations, options) for o in opts]
        scores: list[float] = []
        for start in range(0, len(pairs), self.batch_size):
            chunk = pairs[start:start + self.batch_size]
            seqs, spans = [], []
            for prompt, option in chunk:
                p = self.tok(prompt, add_special_tokens=False)["input_ids"]
                o = self.tok(option, add_special_tokens=False)["input_ids"] or [self.tok.eos_token_id]
                seqs.append(p + o)
                spans.append((len(p), len(p) + len(o)))
            width = max(len(s) for s in seqs)
            ids = torch.full((len(seqs), width), self.tok.pad_token_id, dtype=torch.long)
            mask = torch.zeros_like(ids)
            for r, s in enumerate(seqs):  # right padding: option positions stay where the spans say
                ids[r, :len(s)] = torch.tensor(s)
                mask[r, :len(s)] = 1
            with torch.no_grad():
                logits = self.model(input_ids=ids.to(device), attention_mask=mask.to(device)).logits.float()
            logp = torch.log_softmax(logits, dim=-1)  # (B, T, V)
            for r, (a, b) in enumerate(spans):
                # token t is predicted at position t - 1
                tok_lp = logp[r, a - 1:b - 1].gather(-1, ids[r, a:b].to(device).unsqueeze(-1)).squeeze(-1)
                scores.append(float(tok_lp.mean()))
        out, k = [], 0
        for opts in options:
            out.append(scores[k:k + len(opts)])
            k += len(opts)
        return out

    def identity(self):
        from ...models import model_identity

        return model_identity(self.model)


def as_chat_target(model: ChatSource, *, tokenizer: TokenizerSource | None = None, batch_size: int = 8,
                   device: str | None = None, allow_pickle: bool = False, trust_remote_code: bool = False
                   ) -> ChatTarget:
    """A `ChatTarget` from a model folder, a loaded HF model (with `tokenizer` or a loadable folder),
    a `(model, tokenizer)` pair, an existing `ChatTarget`, or a callable `fn(messages) -> str`."""
    if isinstance(model, ChatTarget):
        return model
    if isinstance(model, tuple) and len(model) == 2:
        model, tokenizer = model
    if isinstance(model, (str, os.PathLike)):
        if str(model).startswith(("http://", "https://")):
            raise ConfigError(f"{model} is a URL: use EndpointTarget(url, model_name) (CLI: --endpoint URL "
                              "--model-name NAME)", field="model")
        from ...models import load_causal_lm

        m, tok = load_causal_lm(model, tokenizer=tokenizer, device=device, allow_pickle=allow_pickle,
                                trust_remote_code=trust_remote_code)
        m.eval()
        return HFChatTarget(m, tok, batch_size=batch_size)
    if hasattr(model, "generate") and hasattr(model, "config"):
        from ...models import load_causal_lm

        m, tok = load_causal_lm(model, tokenizer=tokenizer, trust_remote_code=trust_remote_code)
        return HFChatTarget(m, tok, batch_size=batch_size)
    if callable(model):
        return CallableTarget(model)
    raise ConfigError(f"cannot audit a {type(model).__name__}: give a model folder, a loaded causal LM, a "
                      "callable fn(messages) -> str, or an EndpointTarget", field="model")
