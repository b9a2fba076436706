"""Retrieval only: `rag.search` gives verbatim passages with scores and locations, scoped on request."""
from __future__ import annotations

import pytest

import rag
import rag.pipeline
from rag.documents import read_text
from rag.errors import ConfigError
from rag.passages import MAX_K

from conftest import FakeEmbedder


@pytest.fixture
def opts(corpus, tmp_path, monkeypatch):
    monkeypatch.setattr(rag.pipeline, "_engines", {})
    monkeypatch.setattr(rag.pipeline, "shared_embedder", lambda s: FakeEmbedder())
    monkeypatch.setattr(rag.pipeline, "shared_generator", lambda s: pytest.fail("search must not use the LLM"))
    return dict(seeds_dir=corpus, index_dir=tmp_path / "index", chunk_tokens=40, chunk_overlap_tokens=8)


def test_search_returns_verbatim_passages_best_first(corpus, opts):
    found = rag.search("rye bread croissants cinnamon buns", k=3, **opts)
    assert [p.n for p in found] == [1, 2, 3] and found[0].source == "notes/bakery.txt"
    assert [p.score for p in found] == sorted((p.score for p in found), reverse=True)
    for p in found:
        assert read_text(corpus / p.source)[p.start:p.end] == p.text
    d = found[0].to_dict()
    assert {"n", "source", "start", "end", "text", "score", "cosine", "chunk_id"} <= set(d) and "page" not in d


def test_search_is_scoped_inside_the_search(opts):
    found = rag.search("rye bread croissants", k=2, sources=["*.md"], **opts)
    assert len(found) == 2 and {p.source for p in found} == {"lighthouse.md"}


@pytest.mark.parametrize("query, k, message", [("  ", None, "query is empty"), ("bread", 0, "k must be"),
                                               ("bread", MAX_K + 1, "k must be"), ("bread", True, "k must be")])
def test_bad_search_arguments_are_one_line_errors(opts, query, k, message):
    with pytest.raises(ConfigError, match=message):
        rag.search(query, k=k, **opts)


def test_the_keyword_index_is_built_once_saved_and_loaded_by_the_next_process(opts, monkeypatch):
    import rag.keywords as keywords
    from rag.index import current_version

    expected = rag.search("rye bread croissants cinnamon buns", k=3, **opts)
    folder = opts["index_dir"] / current_version(opts["index_dir"]) / keywords.KEYWORD_DIR
    assert (folder / keywords.STAMP).is_file()
    # A new process (no engines yet) loads the saved index: building one would fail here.
    monkeypatch.setattr(rag.pipeline, "_engines", {})
    monkeypatch.setattr(keywords, "keyword_index", lambda texts: pytest.fail("the saved index was not used"))
    again = rag.search("rye bread croissants cinnamon buns", k=3, **opts)
    assert [(p.source, p.start) for p in again] == [(p.source, p.start) for p in expected]


@pytest.mark.parametrize("damage", ["altered file", "stamp of another version", "missing file"])
def test_a_saved_keyword_index_that_does_not_match_is_built_again(opts, monkeypatch, damage):
    import json

    import rag.keywords as keywords
    from rag.index import current_version

    expected = rag.search("rye bread croissants cinnamon buns", k=3, **opts)
    folder = opts["index_dir"] / current_version(opts["index_dir"]) / keywords.KEYWORD_DIR
    stamp = json.loads((folder / keywords.STAMP).read_text())
    name = sorted(stamp["files"])[0]
    if damage == "altered file":
        data = bytearray((folder / name).read_bytes())
        data[-1] ^= 0x01
        (folder / name).write_bytes(bytes(data))
    elif damage == "stamp of another version":
        stamp["identity"]["chunks_sha256"] = "0" * 64
        (folder / keywords.STAMP).write_text(json.dumps(stamp))
    else:
        (folder / name).unlink()
    built = []
    real = keywords.keyword_index
    monkeypatch.setattr(keywords, "keyword_index", lambda texts: built.append(1) or real(texts))
    monkeypatch.setattr(rag.pipeline, "_engines", {})
    again = rag.search("rye bread croissants cinnamon buns", k=3, **opts)
    assert built == [1]
    assert [(p.source, p.start) for p in again] == [(p.source, p.start) for p in expected]
    assert keywords.load_saved(rag.pipeline.get_engine(rag.pipeline.Settings.from_env(
        seeds_dir=opts["seeds_dir"], index_dir=opts["index_dir"], chunk_tokens=40,
        chunk_overlap_tokens=8)).snapshot) is not None          # and saved again, intact
