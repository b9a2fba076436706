"""FaissStore picks its index type by size: exact up to ``exact_max`` vectors, IVF beyond."""
import numpy as np
import pytest

from rag.embed import normalise
from rag.store import FaissStore, ivf_lists, ivf_probes

DIM = 48
LIMIT = 1_000      # a small exact_max, so a few thousand vectors already use the IVF index


def embedding_like(rng, n, latent=12):
    """Unit vectors with few underlying directions, as sentence embeddings have."""
    basis = np.random.default_rng(99).standard_normal((latent, DIM))
    z = rng.standard_normal((n, latent))
    return normalise(z @ basis + 0.1 * rng.standard_normal((n, DIM)))


@pytest.fixture
def data():
    rng = np.random.default_rng(7)
    vecs = embedding_like(rng, 4_000)
    ids = np.arange(4_000, dtype=np.int64) * 3 + 11      # ids are not row numbers
    return rng, ids, vecs


def exact_top(ids, vecs, q, k=10):
    return [int(i) for i in ids[np.argsort(-(vecs @ q))[:k]]]


def recall_at_10(store, ids, vecs, queries):
    got = [len({i for i, _ in store.search(q, 10)} & set(exact_top(ids, vecs, q))) / 10 for q in queries]
    return float(np.mean(got))


def test_small_stores_are_exact_and_large_ones_ivf(data):
    rng, ids, vecs = data
    store = FaissStore(DIM, exact_max=LIMIT)
    store.add(ids[:LIMIT], vecs[:LIMIT])
    assert not store.approximate and store.kind == "faiss-flat-ip"
    store.add(ids[LIMIT:], vecs[LIMIT:])                     # past the limit: converted, nothing lost
    assert store.approximate and store.kind == "faiss-ivf-flat-ip"
    assert len(store) == len(ids)
    assert store.index.nlist == ivf_lists(len(ids)) and store.index.nprobe == ivf_probes(store.index.nlist)
    np.testing.assert_allclose(store.vectors(ids[[0, 1500, 3999]]), vecs[[0, 1500, 3999]], atol=1e-6)


def test_ivf_recall_at_10_against_exact_search(data):
    rng, ids, vecs = data
    store = FaissStore(DIM, exact_max=LIMIT)
    store.add(ids, vecs)
    assert store.approximate
    queries = embedding_like(rng, 60)
    assert recall_at_10(store, ids, vecs, queries) >= 0.95
    # a stored vector finds itself
    for row in (3, 2100):
        best, score = store.search(vecs[row], 1)[0]
        assert best == ids[row] and score == pytest.approx(1.0, abs=1e-5)


def test_ivf_remove_and_reconstruct(data):
    rng, ids, vecs = data
    store = FaissStore(DIM, exact_max=LIMIT)
    store.add(ids, vecs)
    gone = ids[100:400]
    assert store.remove(gone) == 300
    assert store.remove([-5]) == 0
    assert len(store) == len(ids) - 300
    gone_set = set(gone.tolist())
    for row in (100, 250, 399):
        assert all(i not in gone_set for i, _ in store.search(vecs[row], 10))
    keep = np.setdiff1d(np.arange(len(ids)), np.arange(100, 400))
    np.testing.assert_allclose(store.vectors(ids[keep[[0, 500, -1]]]), vecs[keep[[0, 500, -1]]], atol=1e-6)
    with pytest.raises(RuntimeError):
        store.vectors([ids[200]])
    queries = embedding_like(rng, 40)
    assert recall_at_10(store, ids[keep], vecs[keep], queries) >= 0.95


def test_save_load_keeps_the_ivf_index(data, tmp_path):
    rng, ids, vecs = data
    store = FaissStore(DIM, exact_max=LIMIT)
    store.add(ids, vecs)
    store.remove(ids[:10])
    store.save(tmp_path / "v.faiss")
    loaded = FaissStore.load(tmp_path / "v.faiss")
    assert loaded.approximate and len(loaded) == len(ids) - 10
    assert loaded.index.nprobe == store.index.nprobe
    q = embedding_like(rng, 1)[0]
    assert loaded.search(q, 10) == store.search(q, 10)
    np.testing.assert_allclose(loaded.vectors(ids[10:13]), vecs[10:13], atol=1e-6)
    assert loaded.remove(ids[10:20]) == 10                  # still removable after loading


def test_save_after_removals_below_the_limit_writes_an_exact_index(data, tmp_path):
    rng, ids, vecs = data
    store = FaissStore(DIM, exact_max=LIMIT)
    store.add(ids, vecs)
    store.remove(ids[500:])
    store.save(tmp_path / "v.faiss")
    assert not store.approximate
    loaded = FaissStore(DIM, FaissStore.load(tmp_path / "v.faiss").index, exact_max=LIMIT)
    assert not loaded.approximate and len(loaded) == 500
    q = embedding_like(rng, 1)[0]
    assert [i for i, _ in loaded.search(q, 10)] == exact_top(ids[:500], vecs[:500], q)
