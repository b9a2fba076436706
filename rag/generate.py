"""The generator seam: a chat prompt in, a stream of text pieces out.

``LlamaCppGenerator`` runs a GGUF model in-process with llama-cpp-python. It renders prompts with
the model's own chat template, keeps the system prompt first so llama.cpp reuses its KV cache
across questions, and lets one caller at a time use the model.
"""
from __future__ import annotations

import atexit
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


class LlamaCppGenerator:
    def __init__(self, model_path: Path, *, name: str | None = None, n_ctx: int = 2048, threads: int = 2,
                 n_batch: int = 512, wait_s: float = 120.0):
        self.model_path = Path(model_path)
        self.name = name or self.model_path.name
        self.n_ctx = n_ctx
        self.threads = threads
        self.n_batch = n_batch
        self.wait_s = wait_s
        self._llm = None
        self._formatter = None
        self._lock = threading.Lock()
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
                                n_threads_batch=self.threads, n_batch=self.n_batch, verbose=False)
                except (ValueError, RuntimeError) as exc:
                    raise ModelError(f"llama.cpp could not load {self.model_path}: {exc}") from None
                template = llm.metadata.get("tokenizer.chat_template")
                if template:
                    eos = llm._model.token_get_text(llm.token_eos()) if llm.token_eos() >= 0 else ""
                    bos = llm._model.token_get_text(llm.token_bos()) if llm.token_bos() >= 0 else ""
                    self._formatter = Jinja2ChatFormatter(template=template, eos_token=eos, bos_token=bos)
                self._llm = llm
                atexit.register(self.close)
        return self._llm

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
        if not self._lock.acquire(timeout=self.wait_s):
            raise BusyError("the model is busy answering other questions; try again in a moment")
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
            for out in llm.create_completion(tokens, max_tokens=min(max_tokens, budget), temperature=0.0,
                                             top_k=1, repeat_penalty=1.0, stream=True):
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
            self._lock.release()


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
