"""Every kind of document, end to end with the real embedding model and the real 0.5B LLM: a
question whose answer only one document holds is answered from it, citing the right place.

One question per kind (each answer takes seconds); the index is built once for the module."""
from __future__ import annotations

from pathlib import Path

import pytest

import rag
from rag.config import Settings
from rag.documents import read_source, scan
from rag.pipeline import Engine

import format_corpus

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def engine(tmp_path_factory) -> Engine:
    root = tmp_path_factory.mktemp("formats")
    seeds = format_corpus.write_all(root / "seeds")
    report = rag.build_index(seeds_dir=seeds, index_dir=root / "index")
    assert not report.skipped and report.added == [source for source, _ in scan(seeds)[0]]
    return Engine(Settings.from_env(seeds_dir=seeds, index_dir=root / "index", top_k=3))


@pytest.mark.parametrize("kind", format_corpus.ONE_PER_KIND)
def test_each_kind_is_answered_from_its_document_citing_where(engine, kind):
    fact = format_corpus.FACTS[kind]
    answer = engine.answer(fact.question)
    seeds: Path = engine.settings.seeds_dir
    for c in answer.citations:
        assert read_source(seeds, c.source)[c.start:c.end] == c.quote, f"[{c.n}] of {c.source} is not verbatim"
    # The passage that holds the fact is cited (or, when the small model's answer could not be
    # verified, listed first among the closest passages), with the place it is in.
    right = [c for c in answer.citations if c.source == fact.source and fact.word in c.quote]
    assert right, answer.to_dict()
    assert format_corpus.names_place(right[0].location, fact.location), right[0].location
    if answer.abstained:
        assert answer.citations[0] is right[0], answer.to_dict()
    else:
        assert all(c.source == fact.source for c in answer.citations), answer.to_dict()
