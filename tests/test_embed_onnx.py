"""The ONNX Runtime embedder: same vectors as PyTorch, exported once, re-exported when damaged."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

import rag.embed as embed
from rag.config import Settings
from rag.embed import (ONNX_FILE, ONNX_STAMP, OnnxEmbedder, SentenceTransformerEmbedder, cached_onnx_model,
                       make_embedder, onnx_cache_dir)
from rag.errors import ConfigError
from rag.models import embedding_model_path, sha256_file

TEXTS = [
    "A price floor of 110 dollars per kilogram was set for NdPr oxide.",
    "Who signed the framework agreement for Japan?",
    "The Harbour Point lighthouse was built in 1871 by the engineer Margaret Olsen. " * 6,
    "When does the bakery open in the morning?",
    "Rosa's Bakery on Mill Street sells rye bread, croissants and cinnamon buns; it opens at six.",
]


# --------------------------------------------------------------------------- settings (no model)

def test_backend_setting(monkeypatch):
    assert Settings().embed_backend == "onnx"
    monkeypatch.setenv("RAG_EMBED_BACKEND", "Torch")
    assert Settings.from_env().embed_backend == "torch"
    assert isinstance(make_embedder(Settings.from_env()), SentenceTransformerEmbedder)
    monkeypatch.setenv("RAG_EMBED_BACKEND", "onnx")
    e = make_embedder(Settings.from_env(models_dir="/tmp/somewhere"))
    assert isinstance(e, OnnxEmbedder) and e.name == "all-MiniLM-L6-v2"
    assert e.cache_dir == onnx_cache_dir("/tmp/somewhere", "all-MiniLM-L6-v2")
    monkeypatch.setenv("RAG_EMBED_BACKEND", "tensorflow")
    with pytest.raises(ConfigError, match="RAG_EMBED_BACKEND"):
        Settings.from_env()


# --------------------------------------------------------------------------- with the real model

@pytest.fixture(scope="module")
def models_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="module")
def onnx(models_dir):
    e = OnnxEmbedder(models_dir=models_dir, threads=2)
    e.warm_up()
    return e


@pytest.fixture(scope="module")
def torch_embedder():
    from rag.pipeline import shared_embedder

    return shared_embedder(Settings(embed_backend="torch"))


@pytest.mark.integration
def test_vectors_match_pytorch(onnx, torch_embedder):
    a = onnx.embed_documents(TEXTS)
    b = torch_embedder.embed_documents(TEXTS)
    assert a.shape == b.shape == (len(TEXTS), 384) and a.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(a, axis=1), 1.0, atol=1e-5)
    cos = (a * b).sum(axis=1)
    assert cos.mean() >= 0.99 and cos.min() >= 0.96, cos
    # order and batching do not change a vector
    np.testing.assert_allclose(onnx.embed_query(TEXTS[2]), a[2], atol=1e-5)
    np.testing.assert_allclose(onnx.embed_documents(TEXTS[::-1])[::-1], a, atol=1e-5)
    # the nearest text of each query is the same under both backends
    q = ["price per kilogram for NdPr", "lighthouse engineer", "bread on Mill Street"]
    assert (onnx.embed_documents(q) @ a.T).argmax(1).tolist() == (torch_embedder.embed_documents(q) @ b.T).argmax(1).tolist()


@pytest.mark.integration
def test_token_counts_match_the_pytorch_tokenizer(onnx, torch_embedder):
    texts = TEXTS + ["ok", "naïve café – “quoted” text, 3.5% (approx.)", ""]
    assert onnx.count_tokens(texts) == torch_embedder.count_tokens(texts)


@pytest.mark.integration
def test_export_is_cached_and_reused(onnx, models_dir, monkeypatch):
    path = onnx.cache_dir / ONNX_FILE
    stamp = json.loads((onnx.cache_dir / ONNX_STAMP).read_text())
    assert path.is_file() and stamp["size"] == path.stat().st_size
    mtime = path.stat().st_mtime_ns
    assert cached_onnx_model(embedding_model_path("all-MiniLM-L6-v2"), onnx.cache_dir) == path

    def no_export(*a, **k):
        raise AssertionError("exported again although a good copy is cached")

    monkeypatch.setattr(embed, "export_onnx_model", no_export)
    again = OnnxEmbedder(models_dir=models_dir, threads=2)
    np.testing.assert_allclose(again.embed_documents(TEXTS[:2]), onnx.embed_documents(TEXTS[:2]), atol=1e-6)
    assert path.stat().st_mtime_ns == mtime


@pytest.mark.integration
def test_a_corrupt_cached_model_is_exported_again(onnx, tmp_path):
    model_dir = embedding_model_path("all-MiniLM-L6-v2")
    models = tmp_path / "models"
    cache = onnx_cache_dir(models, "all-MiniLM-L6-v2")
    shutil.copytree(onnx.cache_dir, cache)
    path = cache / ONNX_FILE
    good = path.read_bytes()
    # Altered bytes no longer match the stamp: not used.
    damaged = bytearray(good)
    damaged[len(good) // 2: len(good) // 2 + 4096] = b"\0" * 4096
    path.write_bytes(bytes(damaged))
    assert cached_onnx_model(model_dir, cache) is None
    # Worse: a truncated file whose stamp was rewritten to match it. Loading fails, so it is re-exported.
    path.write_bytes(good[: len(good) // 3])
    stamp = json.loads((cache / ONNX_STAMP).read_text())
    stamp.update(size=path.stat().st_size, sha256=sha256_file(path))
    (cache / ONNX_STAMP).write_text(json.dumps(stamp))
    assert cached_onnx_model(model_dir, cache) == path
    e = OnnxEmbedder(models_dir=models, threads=2)
    vecs = e.embed_documents(TEXTS)
    assert path.stat().st_size > len(good) // 2
    assert cached_onnx_model(model_dir, cache) == path
    assert ((vecs * onnx.embed_documents(TEXTS)).sum(axis=1) > 0.999).all()


@pytest.mark.integration
def test_another_install_of_the_same_weights_uses_the_export_and_changed_weights_do_not(onnx, tmp_path):
    # A second virtual environment sharing the models folder holds the same package elsewhere, with
    # other file times: the export is its too. Weights that differ (same size) are not.
    model_dir = embedding_model_path("all-MiniLM-L6-v2")
    cache = tmp_path / "cache"
    shutil.copytree(onnx.cache_dir, cache)
    other = tmp_path / "venv2" / "model"
    shutil.copytree(model_dir, other, copy_function=shutil.copy)          # new modification times
    assert cached_onnx_model(other, cache) == cache / ONNX_FILE
    stamp = json.loads((cache / ONNX_STAMP).read_text())
    assert str(other.resolve()) in [s["model_dir"] for s in stamp["also"]]
    assert cached_onnx_model(model_dir, cache) == cache / ONNX_FILE          # the original install still is
    changed = tmp_path / "venv3" / "model"
    shutil.copytree(model_dir, changed, copy_function=shutil.copy)
    weights = changed / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-100] ^= 0xFF
    weights.write_bytes(bytes(data))
    assert cached_onnx_model(changed, cache) is None
