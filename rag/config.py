"""One settings object: defaults in code, overridden by environment variables and flags."""
from __future__ import annotations

import os
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

from .errors import ConfigError

REPO_ROOT = Path(__file__).resolve().parents[1]

# Environment variables that override a setting (flags override these in turn).
ENV = {
    "seeds_dir": "RAG_SEEDS_DIR",
    "index_dir": "RAG_INDEX_DIR",
    "models_dir": "RAG_MODELS_DIR",
    "model": "RAG_MODEL",
    "model_variant": "RAG_MODEL_VARIANT",
    "threads": "RAG_THREADS",
    "top_k": "RAG_TOP_K",
    "embed_backend": "RAG_EMBED_BACKEND",
    "vector_store": "RAG_VECTOR_STORE",
    "milvus_uri": "RAG_MILVUS_URI",
    "milvus_token": "RAG_MILVUS_TOKEN",
    "llm_url": "RAG_LLM_URL",
    "llm_api_key": "RAG_LLM_API_KEY",
    "llm_model": "RAG_LLM_MODEL",
}
VECTOR_STORES = ("faiss", "milvus")


def _default_threads() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


@dataclass(frozen=True)
class Settings:
    seeds_dir: Path = REPO_ROOT / "seeds"
    index_dir: Path = REPO_ROOT / "index"
    models_dir: Path = REPO_ROOT / "models"
    model: str = "qwen2.5-coder-0.5b"
    # "auto": a Q8_0 copy of a known model on llama.cpp builds without AVX-512 (prompts read faster
    # there), the original file elsewhere; or "original" / "q8_0" (see rag/convert.py).
    model_variant: str = "auto"
    embed_model: str = "all-MiniLM-L6-v2"
    # "onnx": int8 ONNX Runtime export of the embedding model (made once into models/onnx/), or "torch".
    embed_backend: str = "onnx"
    # Chunking: sentence-aware windows measured in embedding-model tokens.
    chunk_tokens: int = 200
    chunk_overlap_tokens: int = 40
    # Retrieval.
    top_k: int = 5                # passages shown to the model
    candidates: int = 20          # per retriever before fusion
    # Generation.
    n_ctx: int = 2048
    max_answer_tokens: int = 160
    answer_timeout_s: float = 60.0
    threads: int = field(default_factory=_default_threads)
    max_question_chars: int = 2000
    # Vector store: "faiss" (in-process) or "milvus" (Milvus Lite inside each index version, or a
    # Milvus server/cluster when milvus_uri is an http(s) URI).
    vector_store: str = "faiss"
    milvus_uri: str = ""
    milvus_token: str = field(default="", repr=False)
    # Generator: empty llm_url runs the GGUF model in-process; an URL uses that OpenAI-compatible server.
    llm_url: str = ""
    llm_api_key: str = field(default="", repr=False)
    llm_model: str = ""

    def __post_init__(self) -> None:
        for name in ("seeds_dir", "index_dir", "models_dir"):
            object.__setattr__(self, name, Path(getattr(self, name)).expanduser())
        if self.chunk_overlap_tokens >= self.chunk_tokens:
            raise ConfigError("chunk overlap must be smaller than the chunk size")
        if not 16 <= self.chunk_tokens <= 254:
            raise ConfigError("chunk size must be between 16 and 254 tokens (the embedding model reads 256)")
        if self.top_k < 1 or self.candidates < self.top_k:
            raise ConfigError("top_k must be at least 1 and no more than candidates")
        if self.threads < 1:
            raise ConfigError("threads must be at least 1")
        object.__setattr__(self, "embed_backend", str(self.embed_backend).strip().lower())
        if self.embed_backend not in ("torch", "onnx"):
            raise ConfigError(f"RAG_EMBED_BACKEND must be torch or onnx, not {self.embed_backend!r}")
        object.__setattr__(self, "model_variant", str(self.model_variant).strip().lower() or "auto")
        if self.model_variant not in ("auto", "original", "q8_0"):
            raise ConfigError(f"RAG_MODEL_VARIANT must be auto, original or q8_0, not {self.model_variant!r}")
        object.__setattr__(self, "vector_store", str(self.vector_store).strip().lower())
        if self.vector_store not in VECTOR_STORES:
            raise ConfigError(f"vector store must be one of {', '.join(VECTOR_STORES)}, not {self.vector_store!r}")
        if self.milvus_uri and not self.milvus_uri.startswith(("http://", "https://", "tcp://")):
            raise ConfigError(f"RAG_MILVUS_URI must be a Milvus server URI like http://host:19530, not "
                              f"{self.milvus_uri!r}; leave it empty for Milvus Lite inside the index folder")
        if self.llm_url and not self.llm_url.startswith(("http://", "https://")):
            raise ConfigError(f"RAG_LLM_URL must be an http(s) URL like http://127.0.0.1:8080/v1, not {self.llm_url!r}")

    @classmethod
    def from_env(cls, **overrides) -> "Settings":
        """Defaults, then ``RAG_*`` environment variables, then non-None keyword overrides."""
        values = {}
        types = {f.name: f.type for f in fields(cls)}
        for name, var in ENV.items():
            raw = os.environ.get(var)
            if raw and types[name] == "int":
                try:
                    values[name] = int(raw)
                except ValueError:
                    raise ConfigError(f"{var} must be a whole number, not {raw!r}") from None
            elif raw:
                values[name] = raw
        values.update({k: v for k, v in overrides.items() if v is not None})
        unknown = set(values) - set(types)
        if unknown:
            raise ConfigError(f"unknown setting(s): {', '.join(sorted(unknown))}")
        return cls(**values)

    def with_(self, **changes) -> "Settings":
        return replace(self, **{k: v for k, v in changes.items() if v is not None})
