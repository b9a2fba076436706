"""The generator seam: a chat prompt in, a stream of text pieces out.

``LlamaCppGenerator`` runs a GGUF model in-process with llama-cpp-python. It renders prompts with
the model's own chat template, keeps the system prompt first so llama.cpp reuses its KV cache
across questions, and lets one caller at a time use the model.

Several threads may share one generator. A llama.cpp model serves one caller at a time: the others
wait their turn in arrival order (first come, first served) for at most ``wait_s`` seconds, then get
a ``BusyError``. Generation stops at ``max_tokens`` or once ``timeout_s`` seconds have passed since
the caller's turn began (checked after every token; reading the prompt, at most ``n_ctx`` tokens,
is not interrupted). Counting tokens and rendering prompts only read the vocabulary and the chat
template, so they do not wait for a turn.
"""
from __future__ import annotations

import atexit
import collections
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Protocol, Sequence

from .errors import BusyError, ModelError


@dataclass
class GenerationStats:
    prompt_tokens: int = 0
    cached_tokens: int = 0
    completion_tokens: int = 0
    prompt_s: float = 0.0          # time to first token (prompt processing)
    generate_s: float = 0.0        # time from first to last token
    stopped_by: str = ""           # "stop", "length" or "timeout"


class Generator(Protocol):
    name: str
    n_ctx: int

    def count_tokens(self, text: str) -> int: ...
    def render(self, messages: Sequence[dict]) -> str: ...
    def stream(self, prompt: str, *, max_tokens: int, timeout_s: float,
               stats: GenerationStats | None = None) -> Iterator[str]: ...

    # Optional: def continuation_logprobs(self, prompt: str, continuations: Sequence[str]) -> list[float]
    # (how likely each continuation is right after ``prompt``), used by rag.judge.fills_gap.


class FairLock:
    """A lock that hands itself to waiting threads in the order they asked, with a bounded wait."""

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._held = False
        self._queue: collections.deque = collections.deque()

    def acquire(self, timeout: float | None = None) -> bool:
        me = object()
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            self._queue.append(me)
            try:
                while self._held or self._queue[0] is not me:
                    left = None if deadline is None else deadline - time.monotonic()
                    if left is not None and left <= 0:
                        return False
                    self._cond.wait(left)
                self._held = True
                return True
            finally:
                self._queue.remove(me)
                self._cond.notify_all()

    def release(self) -> None:
        with self._cond:
            if not self._held:
                raise RuntimeError("release of an unheld FairLock")
            self._held = False
            self._cond.notify_all()

    def locked(self) -> bool:
        with self._cond:
            return self._held

    @property
    def waiting(self) -> int:
        with self._cond:
            return len(self._queue)


class LlamaCppGenerator:
    def __init__(self, model_path: Path, *, name: str | None = None, n_ctx: int = 2048, threads: int = 2,
                 n_batch: int = 512, flash_attn: bool = True, wait_s: float = 120.0,
                 state_dir: Path | None = None):
        self.model_path = Path(model_path)
        self.name = name or self.model_path.name
        self.n_ctx = n_ctx
        self.threads = threads
        self.n_batch = n_batch
        self.flash_attn = flash_attn
        self.wait_s = wait_s
        self.state_dir = Path(state_dir) if state_dir is not None else None
        self.primed: str = ""       # how the prompt prefix got into the KV cache: "loaded", "read" or ""
        self._llm = None
        self._formatter = None
        self._lock = FairLock()
        self._load_lock = threading.Lock()

    def warm_up(self) -> None:
        self._load()

    def _load(self):
        with self._load_lock:
            if self._llm is None:
                from llama_cpp import Llama
                from llama_cpp.llama_chat_format import Jinja2ChatFormatter

                try:
                    llm = Llama(model_path=str(self.model_path), n_ctx=self.n_ctx, n_threads=self.threads,
                                n_threads_batch=self.threads, n_batch=self.n_batch, flash_attn=self.flash_attn,
                                verbose=False)
                except (ValueError, RuntimeError) as exc:
                    why = " ".join(str(exc).split()) or type(exc).__name__
                    raise ModelError(f"llama.cpp could not load the model file {self.model_path} ({why}); "
                                     "it may be truncated or not a GGUF chat model") from None
                template = llm.metadata.get("tokenizer.chat_template")
                if template:
                    eos = llm._model.token_get_text(llm.token_eos()) if llm.token_eos() >= 0 else ""
                    bos = llm._model.token_get_text(llm.token_bos()) if llm.token_bos() >= 0 else ""
                    self._formatter = Jinja2ChatFormatter(template=template, eos_token=eos, bos_token=bos)
                self._llm = llm
                atexit.register(self.close)
        return self._llm

    def _take_turn(self) -> None:
        """Wait (at most ``wait_s``) for this caller's turn with the model; the caller releases it."""
        if not self._lock.acquire(timeout=self.wait_s):
            raise BusyError(f"the model is busy: other questions kept it for {self.wait_s:g} s; "
                            "try again in a moment")

    def prime(self, prefix: str) -> str:
        """Put the fixed start of every prompt into the KV cache: from a saved state when one was
        made for this model, build and prefix (see ``prefix_state``), else by reading it, and then
        save that state for the next process. Returns "loaded" or "read"."""
        from . import prefix_state

        llm = self._load()
        self._take_turn()
        try:
            tokens = llm.tokenize(prefix.encode("utf-8"), add_bos=True, special=True)
            if _common_prefix(llm, tokens) == len(tokens) and llm.n_tokens >= len(tokens):
                return self.primed or "read"
            ident = path = None
            if self.state_dir is not None:
                settings = {"n_ctx": self.n_ctx, "n_batch": self.n_batch, "flash_attn": self.flash_attn}
                ident = prefix_state.identity(llm, self.model_path, tokens, settings)
                path = prefix_state.path_for(self.state_dir, ident)
                if prefix_state.load(llm, path, ident, tokens):
                    self.primed = "loaded"
                    return self.primed
            llm.reset()
            llm.eval(tokens)
            if path is not None:
                prefix_state.save(llm, path, ident)
            self.primed = "read"
            return self.primed
        finally:
            self._lock.release()

    def close(self) -> None:
        """Free the model now (at exit, before the interpreter tears down what llama.cpp needs)."""
        with self._load_lock:
            if self._llm is not None:
                self._llm.close()
                self._llm = None

    def count_tokens(self, text: str) -> int:
        llm = self._load()
        return len(llm.tokenize(text.encode("utf-8"), add_bos=False, special=True))

    def render(self, messages: Sequence[dict]) -> str:
        self._load()
        if self._formatter is None:  # a model without a template: plain ChatML
            parts = [f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in messages]
            return "".join(parts) + "<|im_start|>assistant\n"
        return self._formatter(messages=list(messages)).prompt

    def stream(self, prompt: str, *, max_tokens: int, timeout_s: float,
               stats: GenerationStats | None = None) -> Iterator[str]:
        llm = self._load()
        self._take_turn()
        completion = None
        try:
            stats = stats if stats is not None else GenerationStats()
            tokens = llm.tokenize(prompt.encode("utf-8"), add_bos=True, special=True)
            stats.prompt_tokens = len(tokens)
            stats.cached_tokens = _common_prefix(llm, tokens)
            budget = self.n_ctx - len(tokens)
            if budget <= 0:
                raise ValueError(f"prompt of {len(tokens)} tokens does not fit the context of {self.n_ctx}")
            t0 = time.monotonic()
            first = None
            stats.stopped_by = "length"
            completion = llm.create_completion(tokens, max_tokens=min(max_tokens, budget), temperature=0.0,
                                               top_k=1, repeat_penalty=1.0, stream=True)
            for out in completion:
                choice = out["choices"][0]
                piece = choice.get("text") or ""
                now = time.monotonic()
                if piece:
                    if first is None:
                        first = now
                        stats.prompt_s = now - t0
                    stats.completion_tokens += 1
                    yield piece
                if choice.get("finish_reason") == "stop":
                    stats.stopped_by = "stop"
                if now - t0 > timeout_s:
                    stats.stopped_by = "timeout"
                    break
            if first is not None:
                stats.generate_s = time.monotonic() - first
        finally:
            # Finish llama.cpp's own generator while this caller still holds the model.
            if completion is not None:
                completion.close()
            self._lock.release()

    def continuation_logprobs(self, prompt: str, continuations: Sequence[str]) -> list[float]:
        """The log-probability the model gives each of ``continuations`` right after ``prompt`` (the
        sum over its tokens). The prompt is read once, its common prefix with the last prompt kept
        in llama.cpp's KV cache; each continuation then costs one step per token."""
        import numpy as np

        llm = self._load()
        self._take_turn()
        try:
            tokens = llm.tokenize(prompt.encode("utf-8"), add_bos=True, special=True)
            keep = min(_common_prefix(llm, tokens), len(tokens) - 1)
            llm.n_tokens = keep
            llm.eval(tokens[keep:])
            base = llm.n_tokens
            first = _logprobs(llm, np)
            out = []
            for text in continuations:
                ids = llm.tokenize(text.encode("utf-8"), add_bos=False, special=False)
                if len(tokens) + len(ids) >= self.n_ctx:
                    raise ValueError(f"prompt and continuation do not fit the context of {self.n_ctx}")
                llm.n_tokens = base
                total, logp = 0.0, first
                for i, tok in enumerate(ids):
                    total += float(logp[tok])
                    if i + 1 < len(ids):
                        llm.eval([tok])
                        logp = _logprobs(llm, np)
                out.append(total)
            llm.n_tokens = base
            return out
        finally:
            self._lock.release()


def _logprobs(llm, np):
    logits = np.ctypeslib.as_array(llm._ctx.get_logits_ith(-1), shape=(llm.n_vocab(),)).astype(np.float64)
    logits -= logits.max()
    return logits - np.log(np.exp(logits).sum())


def _common_prefix(llm, tokens: list[int]) -> int:
    """How many leading prompt tokens llama.cpp already has in its KV cache."""
    try:
        cached = llm._input_ids[: llm.n_tokens]
    except AttributeError:  # pragma: no cover - older llama-cpp-python
        return 0
    n = 0
    for a, b in zip(cached, tokens):
        if a != b:
            break
        n += 1
    return n
