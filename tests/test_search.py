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
