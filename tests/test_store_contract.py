"""One contract, every vector-store backend: FAISS, Milvus Lite and a Milvus server.

The "server" is Milvus Lite's own gRPC server (``python -m milvus_lite server``), which speaks the
Milvus protocol, so the server code path (one collection per version, HNSW, dropping collections)
runs for real without a Milvus cluster.
"""
from __future__ import annotations

import json
import socket
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from rag.embed import normalise
from rag.errors import IndexMismatchError, VectorStoreError
from rag.store import StoreConfig, create_store, drop_version_store, open_store, save_store
from conftest import free_port

DIM = 32
N = 200


@pytest.fixture(scope="module")
def milvus_server(tmp_path_factory):
    """A Milvus-protocol server on 127.0.0.1 for the whole module; stopped at the end."""
    port = free_port()
    data = tmp_path_factory.mktemp("milvus-server") / "data"
    proc = subprocess.Popen([sys.executable, "-m", "milvus_lite", "server", "--data-dir", str(data),
                             "--host", "127.0.0.1", "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            assert proc.poll() is None, "the Milvus Lite server exited"
            time.sleep(0.2)
    else:
        proc.kill()
        pytest.fail("the Milvus Lite server did not start")
    yield f"http://127.0.0.1:{port}"
    proc.terminate()
    proc.wait(timeout=20)


@pytest.fixture(params=["faiss", "milvus-lite", "milvus-server"])
def backend(request):
    if request.param == "faiss":
        return StoreConfig("faiss")
    if request.param == "milvus-lite":
        return StoreConfig("milvus")
    return StoreConfig("milvus", request.getfixturevalue("milvus_server"))


@pytest.fixture
def folder(tmp_path):
    f = tmp_path / "v-20260101T000000-abcdef.tmp"
    f.mkdir()
    return f


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


def random_unit(rng, n, dim=DIM):
    return normalise(rng.standard_normal((n, dim)))


def filled(backend, folder, rng, n=N):
    vecs = random_unit(rng, n)
    ids = list(range(1000, 1000 + n))      # ids need not start at 0
    store = create_store(backend, folder, DIM)
    store.add(ids, vecs)
    return store, ids, vecs


def reopen(backend, store, folder):
    """Save, close and open again, as a rebuild and a later reader do."""
    files, entry = save_store(store, folder)
    for name in files:
        assert (folder / name).is_file()
    json.dumps(entry)                       # the manifest entry is plain JSON
    return open_store(folder, {"store": entry, "embedding": {"dim": DIM}}, backend)


def test_search_order_and_scores_are_exact_inner_products(backend, folder, rng):
    store, ids, vecs = filled(backend, folder, rng)
    assert len(store) == N
    for q in random_unit(rng, 10):
        scores = vecs @ q
        expected = [ids[i] for i in np.argsort(-scores)[:5]]
        hits = store.search(q, 5)
        assert [i for i, _ in hits] == expected
        assert [s for _, s in hits] == pytest.approx(sorted(scores, reverse=True)[:5], abs=1e-5)
    (best, score), *_ = store.search(vecs[57], 3)
    assert best == ids[57] and score == pytest.approx(1.0, abs=1e-5)


def test_search_among_chosen_ids_gives_k_of_them(backend, folder, rng):
    """A scoped question: the store searches only the chosen ids, so k results come back from them
    even when every other vector is closer to the query."""
    store, ids, vecs = filled(backend, folder, rng)
    chosen = np.asarray(ids[150:200:3], dtype=np.int64)
    q = vecs[0]                                  # its own vector (not chosen) is the nearest of all
    scores = {i: float(v @ q) for i, v in zip(ids, vecs)}
    expected = sorted(chosen.tolist(), key=lambda i: -scores[i])[:5]
    assert [i for i, _ in store.search(q, 5, ids=chosen)] == expected
    assert len(store.search(q, 50, ids=chosen[:4])) == 4
    assert store.search(q, 5, ids=np.zeros(0, dtype=np.int64)) == []
    assert store.search(q, 1)[0][0] == ids[0]


def test_empty_store_and_small_k(backend, folder, rng):
    store = create_store(backend, folder, DIM)
    assert len(store) == 0
    assert store.search(random_unit(rng, 1)[0], 5) == []
    assert store.vectors([]).shape == (0, DIM)
    store.add([], np.zeros((0, DIM), dtype=np.float32))
    assert len(store) == 0
    store.add([7, 8], random_unit(rng, 2))
    assert len(store) == 2
    assert len(store.search(random_unit(rng, 1)[0], 50)) == 2
    assert store.search(random_unit(rng, 1)[0], 0) == []


def test_remove(backend, folder, rng):
    store, ids, vecs = filled(backend, folder, rng)
    gone = ids[10:60]
    assert store.remove(gone) == 50
    assert len(store) == N - 50
    assert store.remove([]) == 0
    assert store.remove([99999]) == 0
    assert store.remove([ids[0], 99999]) == 1
    kept = [i for i in ids if i not in gone and i != ids[0]]
    for q in random_unit(rng, 5):
        scores = {i: float(v @ q) for i, v in zip(ids, vecs) if i in kept}
        assert store.search(q, 1)[0][0] == max(scores, key=scores.get)
    assert all(i not in gone for i, _ in store.search(vecs[30], 20))


def test_vectors_by_id_in_the_order_asked(backend, folder, rng):
    store, ids, vecs = filled(backend, folder, rng)
    picked = [ids[5], ids[0], ids[150], ids[5]]
    np.testing.assert_allclose(store.vectors(picked), vecs[[5, 0, 150, 5]], atol=1e-6)
    store.remove([ids[1]])
    np.testing.assert_allclose(store.vectors([ids[150]]), vecs[[150]], atol=1e-6)


def test_save_and_open_round_trip(backend, folder, rng):
    store, ids, vecs = filled(backend, folder, rng)
    store.remove(ids[:3])
    q = random_unit(rng, 1)[0]
    before = store.search(q, 10)
    loaded = reopen(backend, store, folder)
    assert loaded.dim == DIM and len(loaded) == N - 3
    np.testing.assert_allclose(loaded.vectors(ids[3:]), vecs[3:], atol=1e-6)
    after = loaded.search(q, 10)
    assert [i for i, _ in after] == [i for i, _ in before]
    assert [s for _, s in after] == pytest.approx([s for _, s in before], abs=1e-6)


def test_dimension_and_length_mismatches_are_errors(backend, folder, rng):
    store = create_store(backend, folder, DIM)
    with pytest.raises(ValueError):
        store.add([1], random_unit(rng, 1, DIM + 1))
    with pytest.raises(ValueError):
        store.add([1, 2], random_unit(rng, 3))
    store.add([1], random_unit(rng, 1))
    with pytest.raises((ValueError, AssertionError)):
        store.search(random_unit(rng, 1, DIM + 1)[0], 3)
    assert len(store) == 1


# --------------------------------------------------------------------------- Milvus specifics

def test_a_milvus_lite_folder_held_by_another_process_is_read_through_a_copy(folder, rng):
    """The chat window keeps a version open while `rag index` reads it to reuse its vectors."""
    config = StoreConfig("milvus")
    store, ids, vecs = filled(config, folder, rng, n=50)
    files, entry = save_store(store, folder)
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import sys
        from rag.store import StoreConfig, open_store
        s = open_store(__import__("pathlib").Path({str(folder)!r}), {{"store": {entry!r}, "embedding": {{"dim": {DIM}}}}})
        print(len(s), flush=True)
        sys.stdin.read()
        """)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "50"
        copy = open_store(folder, {"store": entry, "embedding": {"dim": DIM}}, config)
        assert len(copy) == 50
        np.testing.assert_allclose(copy.vectors(ids[:4]), vecs[:4], atol=1e-6)
        assert copy.search(vecs[7], 1)[0][0] == ids[7]
        copy.close()
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)
    assert holder.returncode == 0


def test_a_server_collection_is_dropped_with_its_version(milvus_server, folder, rng):
    from pymilvus import MilvusClient

    config = StoreConfig("milvus", milvus_server)
    store, _, _ = filled(config, folder, rng, n=10)
    _, entry = save_store(store, folder)
    assert entry["collection"] == "rag_v_20260101T000000_abcdef" and entry["uri"] == milvus_server
    client = MilvusClient(uri=milvus_server)
    try:
        assert client.has_collection(entry["collection"])
        drop_version_store(folder, config)
        assert not client.has_collection(entry["collection"])
    finally:
        client.close()


def test_an_unreachable_milvus_server_is_a_one_line_error(folder):
    port = free_port()
    config = StoreConfig("milvus", f"http://127.0.0.1:{port}")
    with pytest.raises(VectorStoreError) as err:
        create_store(config, folder, DIM)
    assert f"127.0.0.1:{port}" in str(err.value) and "\n" not in str(err.value)


def test_an_index_built_with_another_backend_asks_for_a_rebuild(tmp_path, fake_embedder):
    from rag.chunk import Chunker
    from rag.index import Builder, load
    from tests.conftest import write_corpus

    seeds = write_corpus(tmp_path / "seeds")
    index = tmp_path / "index"
    chunker = Chunker(fake_embedder.count_tokens, 40, 8)
    Builder(seeds, index, fake_embedder, chunker, store=StoreConfig("milvus")).build()
    snap = load(index, store=StoreConfig("milvus"))
    assert snap.manifest["store"]["backend"] == "milvus" and (snap.path / "vectors.db").is_dir()
    first_last = snap.store.vectors([0, len(snap.chunks) - 1])     # what was embedded (a heading may lead the text)
    snap.store.close()
    with pytest.raises(IndexMismatchError, match=r"built with the milvus \(Milvus Lite\) vector store, but .* select faiss; run `rag index"):
        load(index, store=StoreConfig("faiss"))
    # rebuilding with the other backend switches, copying the vectors instead of embedding again
    fake_embedder.embedded.clear()
    report = Builder(seeds, index, fake_embedder, chunker, store=StoreConfig("faiss")).build()
    assert report.store_changed == "milvus (Milvus Lite) -> faiss" and not report.full_rebuild_reason
    assert "vector store changed" in report.summary()
    assert report.chunks_embedded == 0 and fake_embedder.embedded == []
    faiss_snap = load(index, store=StoreConfig("faiss"))
    assert faiss_snap.manifest["store"].startswith("faiss") and len(faiss_snap.store) == len(snap.chunks)
    np.testing.assert_allclose(faiss_snap.store.vectors([0, len(snap.chunks) - 1]), first_last, atol=1e-6)
    assert fake_embedder.embedded == []     # copied, not embedded again
    assert Builder(seeds, index, fake_embedder, chunker, store=StoreConfig("faiss")).build().up_to_date


# --------------------------------------------------------------------------- the seed corpus, both backends

@pytest.mark.integration
def test_milvus_retrieves_and_answers_the_seed_questions_like_faiss(tmp_path):
    """Same index contents, two backends: the same top passages and scores, and the same answer."""
    from pathlib import Path

    from rag.config import REPO_ROOT, Settings
    from rag.pipeline import Engine, build_index

    seeds = REPO_ROOT / "seeds"
    questions = [json.loads(line)["question"]
                 for line in (Path(__file__).parent / "fixtures" / "seed_questions.jsonl").open()]
    engines = {}
    for backend in ("faiss", "milvus"):
        settings = Settings.from_env(seeds_dir=seeds, index_dir=tmp_path / backend, vector_store=backend)
        report = build_index(settings)
        assert report.chunks_total > 0
        engines[backend] = Engine(settings)
    milvus_snap = engines["milvus"].snapshot
    assert milvus_snap.manifest["store"]["backend"] == "milvus" and (milvus_snap.path / "vectors.db").is_dir()
    assert engines["faiss"].snapshot.manifest["store"].startswith("faiss")
    for q in questions:
        qvec = engines["faiss"].embedder.embed_query(q)
        dense = {b: e.snapshot.store.search(qvec, 20) for b, e in engines.items()}
        assert [i for i, _ in dense["milvus"]] == [i for i, _ in dense["faiss"]], q
        assert [s for _, s in dense["milvus"]] == pytest.approx([s for _, s in dense["faiss"]], abs=1e-5)
        hits = {b: [h.chunk.id for h in e.retriever().search(q, 4, query_vector=qvec)] for b, e in engines.items()}
        assert hits["milvus"] == hits["faiss"], q
    answers = {b: e.answer(questions[0]) for b, e in engines.items()}
    assert not answers["milvus"].abstained and "110" in answers["milvus"].answer
    assert answers["milvus"].answer == answers["faiss"].answer
    cites = {b: [(c.source, c.start, c.end, c.quote) for c in a.citations] for b, a in answers.items()}
    assert cites["milvus"] == cites["faiss"] and cites["milvus"]
    assert [c.score for c in answers["milvus"].citations] == \
        pytest.approx([c.score for c in answers["faiss"].citations], abs=2e-4)
