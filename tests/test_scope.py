"""Questions scoped to chosen documents: the entries, the scoped search, the pipeline and `rag ask --only`."""
from __future__ import annotations

import json

import numpy as np
import pytest

import rag
import rag.pipeline
from rag.cli import main
from rag.config import Settings
from rag.embed import normalise
from rag.pipeline import Engine, build_index
from rag.scope import ScopeError, clean, matches, resolve
from rag.store import FaissStore

from conftest import FakeEmbedder, FakeGenerator, echo_passage, write_corpus

# Two documents answer the same question differently; the first matches the question's words better.
PLANTS = {
    "2019/report.txt": "The water plant opened in 1990 after four years of building work. "
                       "The water plant serves the whole northern district.\n",
    "2024/report.txt": "The new treatment plant opened in 2005 and replaced the old pumping station. "
                       "It cleans the rain for the eastern villages.\n",
    "notes/minutes.md": "The council met on Tuesday to discuss the budget for the library.\n",
}
QUESTION = "When did the water plant open?"


@pytest.fixture
def settings(tmp_path):
    seeds = write_corpus(tmp_path / "seeds", PLANTS)
    return Settings(seeds_dir=seeds, index_dir=tmp_path / "index", models_dir=tmp_path / "no-models",
                    chunk_tokens=40, chunk_overlap_tokens=8, top_k=3, candidates=10)


def make_engine(settings):
    return Engine(settings, embedder=FakeEmbedder(), generator=FakeGenerator(echo_passage(1)))


# --------------------------------------------------------------------------- the entries

@pytest.mark.parametrize("pattern, source, expected", [
    ("notes/minutes.md", "notes/minutes.md", True),
    ("notes/minutes.md", "notes/minutes.md.bak", False),
    ("notes", "notes/minutes.md", True),
    ("notes/", "notes/minutes.md", True),
    ("note", "notes/minutes.md", False),
    ("2019/*.txt", "2019/report.txt", True),
    ("2019/*.txt", "2019/old/report.txt", False),       # * stays within one folder
    ("2019/**/*.txt", "2019/old/report.txt", True),     # ** crosses folders
    ("2019/**/*.txt", "2019/report.txt", True),
    ("*.md", "notes/minutes.md", True),                 # no folder in the pattern: the file name counts
    ("*/report.txt", "2019/report.txt", True),
    ("20?9/*", "2019/report.txt", True),
    ("20[12]4/*", "2024/report.txt", True),
    ("20[!2]4/*", "2024/report.txt", False),
])
def test_an_entry_names_paths_folders_and_globs(pattern, source, expected):
    assert matches(pattern, source) is expected


def test_entries_are_cleaned():
    assert clean(None) == ()
    assert clean("  ./notes\\minutes.md ") == ("notes/minutes.md",)
    assert clean(["/a.txt", "a.txt", "", "  "]) == ("a.txt",)
    with pytest.raises(ScopeError):
        clean([3])


def test_a_scope_that_names_nothing_is_a_one_line_error():
    assert resolve([], ["a.txt"]) is None
    with pytest.raises(ScopeError) as err:
        resolve(["reports/*.pdf"], ["a.txt", "b/c.md"])
    message = str(err.value)
    assert "\n" not in message and "'reports/*.pdf'" in message and "2 indexed documents" in message


# --------------------------------------------------------------------------- the vector store

@pytest.mark.parametrize("exact_max", [10_000, 50])   # flat, then IVF
def test_faiss_search_among_chosen_ids_returns_k_of_them(exact_max):
    rng = np.random.default_rng(7)
    vectors = normalise(rng.normal(size=(400, 16)).astype(np.float32))
    store = FaissStore(16, exact_max=exact_max)
    store.add(list(range(400)), vectors)
    assert store.approximate is (exact_max == 50)
    query = vectors[3]
    chosen = np.arange(200, 400, 7, dtype=np.int64)     # the query's own vector is not among them
    hits = store.search(query, 5, ids=chosen)
    best = chosen[np.argsort(-(vectors[chosen] @ query))[:5]]
    assert [i for i, _ in hits] == best.tolist()
    assert store.search(query, 50, ids=chosen[:3]) and len(store.search(query, 50, ids=chosen[:3])) == 3
    assert store.search(query, 5, ids=np.zeros(0, dtype=np.int64)) == []
    assert store.search(query, 1)[0][0] == 3             # unscoped: its own vector


# --------------------------------------------------------------------------- the retriever and pipeline

def test_scoped_search_finds_k_chunks_of_the_chosen_documents_only(settings):
    engine = make_engine(settings)
    retriever = engine.retriever()
    assert retriever.documents() == sorted(PLANTS)
    everything = retriever.search(QUESTION, 10)
    assert {h.chunk.locations[0].source for h in everything} == set(PLANTS)
    scope = retriever.scope(["2024/*"])
    hits = retriever.search(QUESTION, 10, scope=scope)
    assert hits and {loc.source for h in hits for loc in h.chunk.locations} == {"2024/report.txt"}
    assert len(hits) == len(retriever.rows(scope))        # every chunk of the document, not fewer


def test_a_scoped_question_is_answered_from_the_chosen_document(settings):
    engine = make_engine(settings)
    unscoped = engine.answer(QUESTION)
    assert "1990" in unscoped.answer and unscoped.citations[0].source == "2019/report.txt"

    scoped = engine.answer(QUESTION, sources=["2024/*.txt"])
    assert "2005" in scoped.answer and "1990" not in scoped.answer
    assert {c.source for c in scoped.citations} == {"2024/report.txt"}

    events = list(engine.stream(QUESTION, sources="2024"))
    assert {c.source for c in events[0].citations} == {"2024/report.txt"}
    assert "2005" in events[-1].answer


def test_a_scope_on_one_copy_cites_that_copy(settings):
    (settings.seeds_dir / "copy").mkdir()
    (settings.seeds_dir / "copy" / "report.txt").write_text(PLANTS["2019/report.txt"])
    engine = make_engine(settings)
    a = engine.answer(QUESTION, sources=["copy/report.txt"])
    assert "1990" in a.answer
    assert {c.source for c in a.citations} == {"copy/report.txt"}
    assert all(other["source"] == "copy/report.txt" for c in a.citations for other in c.also)


def test_a_scope_matching_nothing_stops_before_the_model(settings):
    engine = make_engine(settings)
    with pytest.raises(ScopeError, match="matches none"):
        engine.answer(QUESTION, sources=["reports/*.pdf"])
    assert engine.generator.prompts == []


def test_python_api_and_cli_take_the_scope(settings, monkeypatch, capsys):
    build_index(settings, embedder=FakeEmbedder())
    monkeypatch.setattr(rag.pipeline, "_engines", {})
    monkeypatch.setattr(rag.pipeline, "shared_embedder", lambda s: FakeEmbedder())
    monkeypatch.setattr(rag.pipeline, "shared_generator", lambda s: FakeGenerator(echo_passage(1)))
    opts = dict(seeds_dir=settings.seeds_dir, index_dir=settings.index_dir, chunk_tokens=40, chunk_overlap_tokens=8)
    a = rag.answer(QUESTION, sources=["2024/report.txt"], **opts)
    assert {c.source for c in a.citations} == {"2024/report.txt"}
    streamed = list(rag.stream_answer(QUESTION, sources=["2024"], **opts))
    assert "2005" in streamed[-1].answer

    monkeypatch.setattr(rag.cli, "_settings", lambda args: settings)
    args = ["ask", "--json", QUESTION, "--only", "notes/*", "--only", "2024/*"]
    assert main(args) == 0
    out = json.loads(capsys.readouterr().out)
    assert "2005" in out["answer"] and {c["source"] for c in out["citations"]} == {"2024/report.txt"}

    assert main(["ask", QUESTION, "--only", "reports/*.pdf"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("rag: error: the scope 'reports/*.pdf' matches none") and "\n" not in err


# The same plant in two reports: the first matches the question's words best.
REPORTS = {
    "2019/plant.txt": "The Riverside water plant treats 40 million litres of water per day for the city.\n",
    "2024/plant.txt": "After the upgrade, the Riverside water plant handles 55 million litres daily.\n",
    "notes/minutes.md": PLANTS["notes/minutes.md"],
}
REPORT_QUESTION = "How many litres of water per day does the Riverside water plant treat?"


@pytest.mark.integration
def test_real_models_answer_a_scoped_question_from_the_chosen_document(tmp_path):
    seeds = write_corpus(tmp_path / "seeds", REPORTS)
    engine = Engine(Settings.from_env(seeds_dir=seeds, index_dir=tmp_path / "index"))
    unscoped = engine.answer(REPORT_QUESTION)
    assert "40 million" in unscoped.answer and unscoped.citations[0].source == "2019/plant.txt", unscoped.to_dict()
    scoped = engine.answer(REPORT_QUESTION, sources=["2024/*"])
    assert not scoped.abstained and "55 million" in scoped.answer and "40" not in scoped.answer, scoped.to_dict()
    assert {c.source for c in scoped.citations} == {"2024/plant.txt"}
