"""The embedder seam: text in, L2-normalised float32 vectors out.

``SentenceTransformerEmbedder`` loads its model lazily, once, from a local folder (no hub), and
serialises calls with a lock so several threads can share it. ``OnnxEmbedder`` gives the same
vectors (mean cosine above 0.99) from an int8 ONNX Runtime export of that model, faster; the
setting ``embed_backend`` (``RAG_EMBED_BACKEND=torch|onnx``) chooses between them.
"""
from __future__ import annotations

import os
import threading
from typing import Iterable, Protocol, Sequence

import numpy as np

from .models import embedding_model_path, sha256_file, write_json


class Embedder(Protocol):
    name: str
    dim: int

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray: ...
    def embed_query(self, text: str) -> np.ndarray: ...
    def count_tokens(self, texts: Sequence[str]) -> list[int]: ...


def normalise(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


def batched(items: Sequence, size: int) -> Iterable[Sequence]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


class SentenceTransformerEmbedder:
    """all-MiniLM-L6-v2 (or any local sentence-transformers folder) through sentence-transformers."""

    dim = 384
    backend = "torch"

    def __init__(self, name: str = "all-MiniLM-L6-v2", *, threads: int | None = None, batch_size: int = 32):
        self.name = name
        self.batch_size = batch_size
        self.threads = threads
        self._model = None
        self._tokenizer = None
        self._lock = threading.Lock()

    def warm_up(self) -> None:
        with self._lock:
            self._load()

    def _load(self):
        if self._model is None:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
            import torch
            from sentence_transformers import SentenceTransformer
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()
            hf_logging.set_verbosity_error()
            if self.threads:
                torch.set_num_threads(self.threads)
            model = SentenceTransformer(str(embedding_model_path(self.name)), device="cpu")
            self.dim = model.get_embedding_dimension() if hasattr(model, "get_embedding_dimension") \
                else model.get_sentence_embedding_dimension()
            self._tokenizer = model.tokenizer
            self._model = model
        return self._model

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            model = self._load()
            vecs = model.encode(list(texts), batch_size=self.batch_size, convert_to_numpy=True,
                                normalize_embeddings=True, show_progress_bar=False)
        return normalise(vecs)

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed_documents([text])[0]

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        if not texts:
            return []
        with self._lock:
            self._load()
            enc = self._tokenizer(list(texts), add_special_tokens=False, truncation=False,
                                  return_attention_mask=False, return_token_type_ids=False)
        return [len(ids) for ids in enc["input_ids"]]


# --------------------------------------------------------------------------- ONNX Runtime backend

EMBED_BACKENDS = ("torch", "onnx")
ONNX_FILE = "model-int8.onnx"
ONNX_STAMP = "model-int8.json"
ONNX_FORMAT = 1
# Dynamic int8 quantisation of the MatMul weights, one scale per output channel. One scale per
# tensor (the default) moves the vectors too far from the float model (mean cosine about 0.95).
ONNX_QUANTIZATION = "dynamic int8, per-channel, MatMul weights"


def onnx_cache_dir(models_dir, name: str):
    """Where the exported model of embedding model ``name`` is kept: ``<models>/onnx/<name>/``."""
    from pathlib import Path

    safe = "".join(ch if ch.isalnum() or ch in "-._" else "_" for ch in str(name).strip("/")) or "model"
    return Path(models_dir) / "onnx" / safe


def _source_fingerprint(model_dir) -> dict:
    """What the exported file was made from: the weights file's path, size and modification time."""
    from pathlib import Path

    model_dir = Path(model_dir)
    weights = [p for p in (model_dir / "model.safetensors", model_dir / "pytorch_model.bin") if p.is_file()]
    info = {"model_dir": str(model_dir.resolve()), "format": ONNX_FORMAT, "quantization": ONNX_QUANTIZATION}
    if weights:
        st = weights[0].stat()
        info.update(weights=weights[0].name, size=st.st_size, mtime_ns=st.st_mtime_ns)
    return info


def cached_onnx_model(model_dir, cache_dir):
    """The cached int8 model when it is complete and was made from ``model_dir``, else None."""
    import json
    from pathlib import Path

    cache_dir = Path(cache_dir)
    onnx_path = cache_dir / ONNX_FILE
    try:
        stamp = json.loads((cache_dir / ONNX_STAMP).read_text())
        source = _source_fingerprint(model_dir)
        known = len(stamp.get("also", []))
        if not onnx_path.is_file() or not (source == stamp.get("source") or _same_weights(source, model_dir, stamp)):
            return None
        if onnx_path.stat().st_size != stamp.get("size") or sha256_file(onnx_path) != stamp.get("sha256"):
            return None
    except (OSError, ValueError, AttributeError, TypeError):
        return None
    if len(stamp.get("also", [])) != known:
        write_json(cache_dir / ONNX_STAMP, stamp)
    return onnx_path


def _same_weights(source: dict, model_dir, stamp: dict) -> bool:
    """Whether ``model_dir`` is another install of the very weights the export was made from (the
    same package in a second virtual environment sharing this models folder): same file name and
    size, same sha256. Remembered in the stamp, so each install is hashed once."""
    from pathlib import Path

    if source in stamp.get("also", []):
        return True
    made_from = stamp.get("source") or {}
    unplaced = ("model_dir", "mtime_ns")
    if not stamp.get("weights_sha256") or \
            {k: v for k, v in source.items() if k not in unplaced} != {k: v for k, v in made_from.items() if k not in unplaced}:
        return False
    if sha256_file(Path(model_dir) / source["weights"]) != stamp["weights_sha256"]:
        return False
    stamp["also"] = stamp.get("also", []) + [source]
    return True


def export_onnx_model(model_dir, cache_dir, *, force: bool = False):
    """Export the transformer of a local sentence-transformers folder to ONNX and quantise it to int8.

    Runs once per model: the result and a stamp (source fingerprint, size, sha256) are kept in
    ``cache_dir``; a missing, altered or stale file is exported again. Concurrent processes wait
    for each other through a lock file, and the file is moved into place only when complete.
    """
    import fcntl
    import logging
    import tempfile
    import warnings
    from pathlib import Path

    from .errors import ModelError

    model_dir, cache_dir = Path(model_dir), Path(cache_dir)
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        lock = open(cache_dir / ".export.lock", "w")
    except OSError as exc:
        raise ModelError(f"cannot write the ONNX embedding model to {cache_dir}: {exc.strerror}") from None
    with lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not force and (done := cached_onnx_model(model_dir, cache_dir)) is not None:
            return done
        try:
            import torch
            from onnxruntime.quantization import QuantType, quantize_dynamic
            from transformers import AutoModel
            from transformers.utils import logging as hf_logging
        except ImportError as exc:
            raise ModelError(f"exporting the embedding model to ONNX needs torch, transformers and onnxruntime "
                             f"({exc.name} is missing); or set RAG_EMBED_BACKEND=torch") from None
        hf_logging.disable_progress_bar()
        hf_logging.set_verbosity_error()
        with tempfile.TemporaryDirectory(dir=cache_dir, prefix=".export-") as tmp, warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fp32, int8 = Path(tmp) / "model-fp32.onnx", Path(tmp) / ONNX_FILE
            try:
                model = AutoModel.from_pretrained(str(model_dir), local_files_only=True).eval()

                class _Hidden(torch.nn.Module):
                    def __init__(self, inner):
                        super().__init__()
                        self.inner = inner

                    def forward(self, input_ids, attention_mask, token_type_ids):
                        return self.inner(input_ids=input_ids, attention_mask=attention_mask,
                                          token_type_ids=token_type_ids).last_hidden_state

                names = ["input_ids", "attention_mask", "token_type_ids"]
                example = tuple(torch.ones(2, 8, dtype=torch.long) for _ in names)
                with torch.no_grad():
                    torch.onnx.export(_Hidden(model), example, str(fp32), input_names=names,
                                      output_names=["last_hidden_state"], opset_version=17, dynamo=False,
                                      dynamic_axes={n: {0: "batch", 1: "tokens"} for n in names + ["last_hidden_state"]})
                level = logging.getLogger().level
                logging.getLogger().setLevel(logging.ERROR)   # quantize_dynamic's "consider pre-processing" note
                try:
                    quantize_dynamic(str(fp32), str(int8), weight_type=QuantType.QInt8, per_channel=True,
                                     op_types_to_quantize=["MatMul"])
                finally:
                    logging.getLogger().setLevel(level)
                with open(int8, "rb+") as f:
                    os.fsync(f.fileno())
            except Exception as exc:  # noqa: BLE001 - any export failure is one clear message
                raise ModelError(f"could not export embedding model {model_dir} to ONNX "
                                 f"({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}); "
                                 "set RAG_EMBED_BACKEND=torch to use PyTorch instead") from None
            final = cache_dir / ONNX_FILE
            os.replace(int8, final)
        source = _source_fingerprint(model_dir)
        weights = model_dir / source["weights"] if source.get("weights") else None
        stamp = {"source": source, "weights_sha256": sha256_file(weights) if weights else "",
                 "size": final.stat().st_size, "sha256": sha256_file(final)}
        write_json(cache_dir / ONNX_STAMP, stamp)
        return final


class OnnxEmbedder:
    """The same model through ONNX Runtime, int8-quantised: about 2-3x the chunks/s of PyTorch.

    The transformer is exported once into ``<models>/onnx/<model>/`` (see ``export_onnx_model``);
    tokenisation uses the model's own ``tokenizer.json`` and the vectors are mean-pooled over the
    attention mask and L2-normalised, as sentence-transformers does. PyTorch is needed only for the
    one-time export, so answering questions does not load it.
    """

    dim = 384
    backend = "onnx"

    def __init__(self, name: str = "all-MiniLM-L6-v2", *, models_dir=None, threads: int | None = None,
                 batch_size: int = 1):
        # One text per run: dynamic quantisation scales activations per run, so a text embedded in a
        # batch would get a vector that depends on its neighbours (and on their padding). Alone, a
        # text always gets the same vector, and on 2 cores it is no slower than batches of 32.
        from .config import REPO_ROOT

        self.name = name
        self.threads = threads
        self.batch_size = batch_size
        self.cache_dir = onnx_cache_dir(models_dir if models_dir is not None else REPO_ROOT / "models", name)
        self.max_tokens = 256
        self._session = None
        self._tokenizer = None      # truncates and pads, for the model
        self._counter = None        # neither, for counting tokens
        self._lock = threading.Lock()

    def warm_up(self) -> None:
        with self._lock:
            self._load()

    def _load(self):
        if self._session is not None:
            return self._session
        import json

        import onnxruntime as ort
        from tokenizers import Tokenizer

        from .errors import ModelError

        model_dir = embedding_model_path(self.name)
        try:
            config = json.loads((model_dir / "sentence_bert_config.json").read_text())
            self.max_tokens = int(config.get("max_seq_length") or self.max_tokens)
        except (OSError, ValueError):
            pass
        try:
            counter = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
            tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        except Exception as exc:  # noqa: BLE001
            raise ModelError(f"cannot read the tokenizer of embedding model {self.name} in {model_dir}: {exc}") from None
        counter.no_truncation()
        counter.no_padding()
        tokenizer.enable_truncation(self.max_tokens)
        tokenizer.enable_padding(pad_id=tokenizer.token_to_id("[PAD]") or 0, pad_token="[PAD]")

        options = ort.SessionOptions()
        options.intra_op_num_threads = self.threads or 0
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3
        # Idle ONNX Runtime threads would spin for a while after each run, taking the cores that the
        # vector search and llama.cpp need next; with spinning off both run measurably faster.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        path = cached_onnx_model(model_dir, self.cache_dir) or export_onnx_model(model_dir, self.cache_dir)
        try:
            session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception:  # noqa: BLE001 - a damaged file that still matches its stamp: export again
            path = export_onnx_model(model_dir, self.cache_dir, force=True)
            session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self._inputs = {i.name for i in session.get_inputs()}
        self._counter, self._tokenizer, self._session = counter, tokenizer, session
        return session

    def _embed_batch(self, texts: Sequence[str]) -> np.ndarray:
        encodings = self._tokenizer.encode_batch(list(texts))
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        feed = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self._inputs:
            feed["token_type_ids"] = np.array([e.type_ids for e in encodings], dtype=np.int64)
        hidden = self._session.run(None, feed)[0]
        weights = mask[..., None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        return normalise(pooled)

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        if not len(texts):
            return np.zeros((0, self.dim), dtype=np.float32)
        texts = list(texts)
        with self._lock:
            self._load()
            # Longest first, like sentence-transformers: batches of similar length pad little.
            order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
            out = np.zeros((len(texts), self.dim), dtype=np.float32)
            for batch in batched(order, self.batch_size):
                out[list(batch)] = self._embed_batch([texts[i] for i in batch])
        return out

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed_documents([text])[0]

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        if not len(texts):
            return []
        with self._lock:
            self._load()
            encodings = self._counter.encode_batch(list(texts), add_special_tokens=False)
        return [len(e.ids) for e in encodings]


def make_embedder(settings) -> Embedder:
    """The embedder the settings ask for (``embed_backend``: "onnx" or "torch")."""
    backend = getattr(settings, "embed_backend", "torch")
    if backend == "onnx":
        return OnnxEmbedder(settings.embed_model, models_dir=settings.models_dir, threads=settings.threads)
    return SentenceTransformerEmbedder(settings.embed_model, threads=settings.threads)
