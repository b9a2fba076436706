"""The generator seam over HTTP: any OpenAI-compatible server (llama.cpp's server, llama-cpp-python's
``python -m llama_cpp.server``, vLLM, …), selected with ``RAG_LLM_URL``.

* ``render`` keeps the chat messages: it returns a ``RenderedChat``, a ``str`` (the messages in
  ChatML, the format Qwen models use) that also carries the messages. ``stream`` sends those
  messages to ``/v1/chat/completions``, so the server applies the model's own chat template. A
  plain string prompt goes to ``/v1/completions`` as it is.
* Decoding is greedy (temperature 0, top_k 1, no repeat penalty), like the in-process generator.
* Token counts come from the server's tokenizer when it has an endpoint for it, else from an
  estimate; ``token_counter`` says which:
  ``"llama-cpp-python"`` (``POST /extras/tokenize/count``), ``"tokenize"`` (``POST /tokenize``, the
  route of llama.cpp's own server and of vLLM) or ``"estimate"`` (characters / 4, rounded up, which
  is close for English text and BPE tokenizers).
* A server that cannot be reached, answers with an error or stalls longer than the answer timeout
  gives a one-line ``ModelError``. Requests run in parallel: the server schedules them.
"""
from __future__ import annotations

import json
import math
import threading
from collections import OrderedDict
import time
from typing import Iterator, Sequence
from urllib.parse import urlsplit

from .errors import ModelError
from .generate import GenerationStats

CONNECT_TIMEOUT_S = 5.0
CHARS_PER_TOKEN = 4.0
COUNT_CACHE = 4096                 # recent token counts kept: fitting one prompt counts the same parts often


class RenderedChat(str):
    """A rendered prompt (ChatML text) that remembers the chat messages it was made from."""

    messages: tuple[dict, ...]

    def __new__(cls, messages: Sequence[dict]) -> "RenderedChat":
        text = "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in messages)
        obj = super().__new__(cls, text + "<|im_start|>assistant\n")
        obj.messages = tuple({"role": m["role"], "content": m["content"]} for m in messages)
        return obj


class OpenAIGenerator:
    """Streams answers from an OpenAI-compatible server at ``url`` (``http://host:port`` or ``…/v1``)."""

    def __init__(self, url: str, *, model: str = "", api_key: str = "", n_ctx: int = 2048):
        import httpx

        base = url.rstrip("/")
        if not base.endswith("/v1"):
            base += "/v1"
        self.url = url
        self.base = base                        # …/v1: chat/completions, completions, models
        self.root = base[: -len("/v1")]         # tokenizer routes live beside /v1
        self.n_ctx = n_ctx
        self._model = model
        self.token_counter: str | None = None   # which way count_tokens counts; set on first use
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._http = httpx.Client(headers=headers, timeout=httpx.Timeout(60.0, connect=CONNECT_TIMEOUT_S))
        self._httpx = httpx
        self._lock = threading.Lock()
        self._counts: OrderedDict[str, int] = OrderedDict()

    @property
    def name(self) -> str:
        return self._model or urlsplit(self.url).netloc

    # ------------------------------------------------------------------ HTTP helpers

    def _fail(self, exc: Exception, timeout_s: float | None = None) -> ModelError:
        httpx = self._httpx
        if isinstance(exc, httpx.TimeoutException):
            limit = f" within {timeout_s:.0f} s" if timeout_s else ""
            return ModelError(f"the language model server at {self.url} did not answer{limit}; "
                              "it may be overloaded or stuck")
        if isinstance(exc, (httpx.ConnectError, httpx.RemoteProtocolError, httpx.ReadError)):
            reason = " ".join(str(exc).split())[:120] or type(exc).__name__
            return ModelError(f"cannot reach the language model server at {self.url} ({reason}); "
                              "start it or fix RAG_LLM_URL")
        return ModelError(f"the language model server at {self.url} failed: {type(exc).__name__}: "
                          f"{' '.join(str(exc).split())[:160]}")

    def _status_error(self, response) -> ModelError:
        try:
            body = response.read().decode("utf-8", "replace")
        except Exception:  # noqa: BLE001
            body = ""
        body = " ".join(body.split())[:160]
        hint = "; check RAG_LLM_API_KEY" if response.status_code in (401, 403) else ""
        hint = hint or ("; check RAG_LLM_URL and RAG_LLM_MODEL" if response.status_code == 404 else "")
        return ModelError(f"the language model server at {self.url} refused the request "
                          f"(HTTP {response.status_code}: {body}){hint}")

    def _post(self, url: str, payload: dict):
        try:
            return self._http.post(url, json=payload)
        except self._httpx.HTTPError as exc:
            raise self._fail(exc) from None

    def _models(self) -> list[str]:
        try:
            r = self._http.get(f"{self.base}/models")
        except self._httpx.HTTPError as exc:
            raise self._fail(exc) from None
        if r.status_code >= 400:
            raise self._status_error(r)
        try:
            return [m["id"] for m in r.json()["data"]]
        except (ValueError, KeyError, TypeError):
            return []

    def model(self) -> str:
        """The model to ask for: RAG_LLM_MODEL, else the first one the server lists."""
        with self._lock:
            if not self._model:
                models = self._models()
                if not models:
                    raise ModelError(f"the server at {self.url} lists no models; set RAG_LLM_MODEL")
                self._model = models[0]
            return self._model

    def warm_up(self) -> None:
        """Check that the server answers (and learn its model name)."""
        self._models()
        self.model()

    def close(self) -> None:
        self._http.close()

    # ------------------------------------------------------------------ the Generator seam

    def render(self, messages: Sequence[dict]) -> str:
        return RenderedChat(messages)

    def count_tokens(self, text: str) -> int:
        text = str(text)
        with self._lock:
            if text in self._counts:
                self._counts.move_to_end(text)
                return self._counts[text]
        n = self._count_tokens(text)
        with self._lock:
            self._counts[text] = n
            if len(self._counts) > COUNT_CACHE:
                self._counts.popitem(last=False)
        return n

    def _count_tokens(self, text: str) -> int:
        if self.token_counter in (None, "llama-cpp-python"):
            r = self._post(f"{self.root}/extras/tokenize/count", {"input": text, "model": self.model()})
            if r.status_code < 400:
                self.token_counter = "llama-cpp-python"
                return int(r.json()["count"])
            if self.token_counter is not None:
                raise self._status_error(r)
        if self.token_counter in (None, "tokenize"):
            # llama.cpp's server reads "content", vLLM reads "prompt"; both ignore the other key.
            r = self._post(f"{self.root}/tokenize", {"model": self.model(), "content": text, "prompt": text,
                                                     "add_special": False, "add_special_tokens": False})
            if r.status_code < 400:
                self.token_counter = "tokenize"
                data = r.json()
                return int(data["count"]) if "count" in data else len(data["tokens"])
            if self.token_counter is not None:
                raise self._status_error(r)
        self.token_counter = "estimate"        # no tokenizer endpoint: an estimate
        return math.ceil(len(text) / CHARS_PER_TOKEN)

    def stream(self, prompt: str, *, max_tokens: int, timeout_s: float,
               stats: GenerationStats | None = None) -> Iterator[str]:
        stats = stats if stats is not None else GenerationStats()
        messages = getattr(prompt, "messages", None)
        payload = {"model": self.model(), "stream": True, "max_tokens": max_tokens, "temperature": 0.0,
                   "top_p": 1.0, "top_k": 1, "repeat_penalty": 1.0, "seed": 0,
                   "stream_options": {"include_usage": True}}
        if messages is not None:
            url, chat = f"{self.base}/chat/completions", True
            payload["messages"] = list(messages)
        else:
            url, chat = f"{self.base}/completions", False
            payload["prompt"] = str(prompt)
        timeout = self._httpx.Timeout(timeout_s, connect=CONNECT_TIMEOUT_S)
        t0 = time.monotonic()
        first = None
        usage = None
        finished = False
        stats.stopped_by = "length"
        try:
            with self._http.stream("POST", url, json=payload, timeout=timeout) as response:
                if response.status_code >= 400:
                    raise self._status_error(response)
                for line in response.iter_lines():
                    if not line.startswith("data:"):
                        continue
                    data = line[5:].strip()
                    if data == "[DONE]":
                        finished = True
                        break
                    try:
                        event = json.loads(data)
                    except ValueError:
                        continue
                    if event.get("error"):
                        raise ModelError(f"the language model server at {self.url} failed: "
                                         f"{' '.join(str(event['error']).split())[:160]}")
                    usage = event.get("usage") or usage
                    for choice in event.get("choices") or ():
                        piece = (choice.get("delta") or {}).get("content") if chat else choice.get("text")
                        now = time.monotonic()
                        if piece:
                            if first is None:
                                first = now
                                stats.prompt_s = now - t0
                            stats.completion_tokens += 1
                            yield piece
                        if choice.get("finish_reason"):
                            finished = True
                        if choice.get("finish_reason") == "stop":
                            stats.stopped_by = "stop"
                    if time.monotonic() - t0 > timeout_s:
                        stats.stopped_by = "timeout"
                        finished = True
                        break
        except self._httpx.HTTPError as exc:
            raise self._fail(exc, timeout_s) from None
        if not finished:
            # llama-cpp-python's server ends a running answer this way when another request comes
            # in, unless it was started with --interrupt_requests False.
            raise ModelError(f"the language model server at {self.url} ended the answer early (another request "
                             "may have interrupted it; start llama_cpp.server with --interrupt_requests False)")
        if first is not None:
            stats.generate_s = time.monotonic() - first
        if usage:
            stats.prompt_tokens = int(usage.get("prompt_tokens") or 0)
            stats.completion_tokens = int(usage.get("completion_tokens") or stats.completion_tokens)
            details = usage.get("prompt_tokens_details") or {}
            stats.cached_tokens = int(details.get("cached_tokens") or 0)
        else:  # the server reports no usage while streaming (llama-cpp-python): count the prompt
            stats.prompt_tokens = self.count_tokens(prompt)
