"""Rebuilding while questions are answered, and exactly what an incremental rebuild embeds."""
from __future__ import annotations

import threading
import time

import numpy as np

from rag.chunk import Chunker, chunk_id
from rag.config import Settings
from rag.documents import read_document
from rag.index import Builder, current_version, load
from rag.pipeline import Engine, build_index

from conftest import CORPUS, FakeEmbedder, FakeGenerator, echo_passage, fake_vector, write_corpus
from test_index import embedded_texts

QUESTION = "In which year did the Harbour Point lighthouse open to visitors?"


def lighthouse(year: int) -> str:
    return (f"The Harbour Point lighthouse opened to visitors in {year}. "
            "Its lamp can be seen from 22 nautical miles away on a clear night.\n")


class SlowFakeEmbedder(FakeEmbedder):
    """The FakeEmbedder (same name, same vectors), taking a while per chunk, like a real model."""

    def __init__(self, delay: float):
        super().__init__()
        self.delay = delay

    def embed_documents(self, texts):
        time.sleep(self.delay * len(texts))
        return super().embed_documents(texts)


def filler(i: int) -> str:
    return "".join(f"Filler note {i}.{j} is about tide table number {i * 100 + j}. " for j in range(60)) + "\n"


def test_questions_during_a_rebuild_see_the_old_or_the_new_index_and_then_the_new(tmp_path):
    seeds = write_corpus(tmp_path / "seeds", {"lighthouse.md": lighthouse(1901),
                                              **{f"filler{i}.txt": filler(i) for i in range(6)}})
    settings = Settings(seeds_dir=seeds, index_dir=tmp_path / "index", models_dir=tmp_path / "no-models",
                        chunk_tokens=40, chunk_overlap_tokens=8, top_k=3, candidates=10)
    build_index(settings, embedder=FakeEmbedder())
    engine = Engine(settings, embedder=FakeEmbedder(), generator=FakeGenerator(echo_passage(1)))
    first = engine.answer(QUESTION)
    assert "1901" in first.answer
    year_of = {first.index_version: "1901"}

    answers, errors, during = [], [], []
    stop, building = threading.Event(), threading.Event()

    def ask_repeatedly():
        while not stop.is_set():
            try:
                started_while_building = building.is_set()
                started = time.monotonic()
                a = engine.answer(QUESTION)
                a.started = started
                answers.append(a)
                if started_while_building and building.is_set():
                    during.append(a)
            except Exception as exc:  # noqa: BLE001 - every failure is collected and reported
                errors.append(exc)

    asker = threading.Thread(target=ask_repeatedly)
    asker.start()
    try:
        for year in (1902, 1903, 1904):
            (seeds / "lighthouse.md").write_text(lighthouse(year))
            for i in range(6):   # enough new text that the rebuild takes a while
                (seeds / f"filler{i}.txt").write_text(filler(i + 10 * (year - 1900)))
            building.set()
            report = build_index(settings, embedder=SlowFakeEmbedder(0.005))
            building.clear()
            year_of[report.version] = str(year)
            assert report.chunks_embedded > 20
            done = time.monotonic()     # the next question sees the new version, no restart
            while not (answers and answers[-1].started > done) and time.monotonic() - done < 10:
                time.sleep(0.01)
            latest = answers[-1]
            assert latest.started > done
            assert latest.index_version == report.version and str(year) in latest.answer
    finally:
        stop.set()
        asker.join()
    assert not errors, errors[:3]
    assert len(answers) > 20
    for a in answers:
        # Each answer comes from one whole version: the year it quotes is that version's year.
        assert a.index_version in year_of, a.index_version
        assert year_of[a.index_version] in a.answer and not a.abstained
        assert not any(y in a.answer for y in set(year_of.values()) - {year_of[a.index_version]})
    assert len({a.index_version for a in answers}) >= 3, "questions were answered from several versions"
    assert len(during) >= 3, "questions were answered while a rebuild ran"


# --------------------------------------------------------------------------- what is embedded, exactly

def make_builder(seeds, index_dir, embedder=None) -> Builder:
    embedder = embedder or FakeEmbedder()
    return Builder(seeds, index_dir, embedder, Chunker(embedder.count_tokens, 30, 6))


def chunks_of(builder: Builder, source: str):
    doc = read_document(builder.seeds_dir / source, source)
    return builder.chunker.split(source, doc.text, doc.regions)


def texts_of(builder: Builder, source: str) -> set[str]:
    return {c.text for c in chunks_of(builder, source)}


def embedded_of(builder: Builder, source: str, only: set[str] | None = None) -> set[str]:
    """What is embedded for the chunks of ``source`` (those with a text in ``only``, when given):
    the text, after its Markdown heading when it has one."""
    return {c.embedded_text() for c in chunks_of(builder, source) if only is None or c.text in only}


def test_add_edit_rename_delete_embed_exactly_the_new_text(tmp_path):
    seeds = write_corpus(tmp_path / "seeds")
    builder = make_builder(seeds, tmp_path / "index")
    builder.build()
    assert sorted(builder.embedder.embedded) == sorted(set().union(*(embedded_of(builder, s) for s in CORPUS)))

    # Add: only the new file's chunks.
    builder.embedder.embedded.clear()
    (seeds / "tides.txt").write_text("The spring tide rose four metres on Monday. The harbour wall held. "
                                     "Fishing boats stayed in port until Thursday.\n")
    builder.build()
    assert sorted(builder.embedder.embedded) == sorted(texts_of(builder, "tides.txt"))

    # Edit one sentence: only the chunks that hold it.
    before = {rec.text for rec in load(builder.index_dir).chunks}
    builder.embedder.embedded.clear()
    (seeds / "lighthouse.md").write_text(CORPUS["lighthouse.md"].replace("148 steps", "150 steps"))
    builder.build()
    changed = texts_of(builder, "lighthouse.md") - before
    assert changed and all("150 steps" in t for t in changed)
    assert sorted(builder.embedder.embedded) == sorted(embedded_of(builder, "lighthouse.md", changed))

    # Rename and move: nothing.
    builder.embedder.embedded.clear()
    (seeds / "notes").rename(seeds / "archive")
    report = builder.build()
    assert report.renamed == [("notes/bakery.txt", "archive/bakery.txt")] and builder.embedder.embedded == []

    # Delete: nothing embedded; exactly its vectors leave the store, the others keep theirs.
    snap = load(builder.index_dir)
    gone = {rec.id for rec in snap.chunks if {l.source for l in rec.locations} == {"tides.txt"}}
    assert gone
    (seeds / "tides.txt").unlink()
    report = builder.build()
    assert report.removed == ["tides.txt"] and builder.embedder.embedded == []
    after = load(builder.index_dir)
    assert len(after.store) == len(snap.store) - len(gone) == len(after.chunks)
    assert {rec.id for rec in after.chunks} == {rec.id for rec in snap.chunks} - gone
    assert [rec.row for rec in after.chunks] == list(range(len(after.chunks)))
    embedded = embedded_texts(seeds, builder.chunker)
    np.testing.assert_allclose(after.store.vectors(range(len(after.chunks))),
                               np.vstack([fake_vector(embedded[rec.text]) for rec in after.chunks]), atol=1e-6)
    for cid in gone:       # a deleted chunk's own vector is no longer found
        text = next(rec.text for rec in snap.chunks if rec.id == cid)
        hits = after.store.search(fake_vector(text), len(after.chunks))
        assert all(after.chunks[row].id != cid for row, _ in hits)
        assert max(score for _, score in hits) < 0.999
    assert {row for row, _ in after.store.search(fake_vector("lighthouse"), len(after.chunks))} == set(
        range(len(after.chunks))), "the store's ids are exactly the rows"
    assert chunk_id(next(iter(texts_of(builder, "lighthouse.md")))) in {rec.id for rec in after.chunks}
    assert current_version(builder.index_dir) == after.version


def test_a_version_removed_while_it_is_loaded_gives_way_to_the_live_one(tmp_path, monkeypatch):
    import shutil

    import rag.index_format

    seeds = write_corpus(tmp_path / "seeds")
    builder = make_builder(seeds, tmp_path / "index")
    first = builder.build().version
    (seeds / "tides.txt").write_text("The spring tide rose four metres on Monday.\n")
    second = builder.build().version
    shutil.rmtree(builder.index_dir / first)      # a later rebuild collected it meanwhile
    real = rag.index_format.current_version
    answers = iter([first])
    monkeypatch.setattr(rag.index_format, "current_version", lambda d: next(answers, None) or real(d))
    assert load(builder.index_dir).version == second
