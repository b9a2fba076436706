import numpy as np
import pytest

from rag.embed import normalise
from rag.store import FaissStore

DIM = 32


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


def random_unit(rng, n, dim=DIM):
    return normalise(rng.standard_normal((n, dim)))


def filled_store(rng, n=200):
    vecs = random_unit(rng, n)
    ids = list(range(1000, 1000 + n))      # ids need not start at 0
    store = FaissStore(DIM)
    store.add(ids, vecs)
    return store, ids, vecs


def test_search_returns_the_exact_nearest_by_inner_product(rng):
    store, ids, vecs = filled_store(rng)
    assert len(store) == len(ids)
    for q in random_unit(rng, 25):
        scores = vecs @ q
        expected = [ids[i] for i in np.argsort(-scores)[:5]]
        hits = store.search(q, 5)
        assert [i for i, _ in hits] == expected
        assert [s for _, s in hits] == pytest.approx(sorted(scores, reverse=True)[:5], abs=1e-5)


def test_a_stored_vector_finds_itself_first(rng):
    store, ids, vecs = filled_store(rng)
    for row in (0, 57, 199):
        (best, score), *_ = store.search(vecs[row], 3)
        assert best == ids[row]
        assert score == pytest.approx(1.0, abs=1e-5)


def test_search_edge_cases(rng):
    store = FaissStore(DIM)
    assert store.search(random_unit(rng, 1)[0], 5) == []
    store.add([7, 8], random_unit(rng, 2))
    assert len(store.search(random_unit(rng, 1)[0], 50)) == 2
    assert store.search(random_unit(rng, 1)[0], 0) == []


def test_remove(rng):
    store, ids, vecs = filled_store(rng)
    gone = ids[10:60]
    assert store.remove(gone) == 50
    assert len(store) == len(ids) - 50
    assert store.remove([]) == 0
    assert store.remove([99999]) == 0
    for row in (10, 30, 59):
        assert store.search(vecs[row], 1)[0][0] not in gone
    kept = [i for i in ids if i not in gone]
    for q in random_unit(rng, 10):
        scores = {i: float(v @ q) for i, v in zip(ids, vecs) if i in kept}
        assert store.search(q, 1)[0][0] == max(scores, key=scores.get)


def test_vectors_reconstructs_by_id(rng):
    store, ids, vecs = filled_store(rng)
    picked = [ids[5], ids[0], ids[150]]
    np.testing.assert_allclose(store.vectors(picked), vecs[[5, 0, 150]], atol=1e-6)
    store.remove([ids[1]])
    np.testing.assert_allclose(store.vectors([ids[150]]), vecs[[150]], atol=1e-6)
    assert store.vectors([]).shape == (0, DIM)


def test_save_load_round_trip(rng, tmp_path):
    store, ids, vecs = filled_store(rng)
    store.remove(ids[:3])
    path = tmp_path / "vectors.faiss"
    store.save(path)
    loaded = FaissStore.load(path)
    assert loaded.dim == DIM and len(loaded) == len(store)
    np.testing.assert_allclose(loaded.vectors(ids[3:]), vecs[3:], atol=1e-6)
    q = random_unit(rng, 1)[0]
    assert loaded.search(q, 10) == store.search(q, 10)


def test_add_rejects_bad_shapes(rng):
    store = FaissStore(DIM)
    with pytest.raises(ValueError):
        store.add([1], random_unit(rng, 1, DIM + 1))
    with pytest.raises(ValueError):
        store.add([1, 2], random_unit(rng, 3))
    store.add([], np.zeros((0, DIM), dtype=np.float32))
    assert len(store) == 0
