import hashlib
import json
import shutil
import time
from collections import Counter

import numpy as np
import pytest

import rag.index_build
import rag.index_plan
from rag.chunk import Chunker, chunk_id
from rag.documents import UnreadableDocument, read_document, scan
from rag.errors import CorpusError, IndexCorruptError, IndexLockedError, IndexMismatchError, IndexMissingError
from rag.index import FORMAT, POINTER, Builder, build_lock, current_version, load

from conftest import CORPUS, FakeEmbedder, fake_vector, write_corpus

MAX_TOKENS, OVERLAP = 30, 6


def make_builder(seeds, index_dir, embedder=None, max_tokens=MAX_TOKENS, overlap=OVERLAP):
    embedder = embedder or FakeEmbedder()
    return Builder(seeds, index_dir, embedder, Chunker(embedder.count_tokens, max_tokens, overlap))


def chunks_from_scratch(seeds, chunker):
    """The chunks of every readable file of ``seeds``, as a from-scratch build makes them."""
    for source, path in scan(seeds)[0]:
        try:
            doc = read_document(path, source)
        except UnreadableDocument:
            continue
        yield from chunker.split(source, doc.text, doc.regions)


def expected_chunks(seeds, chunker) -> dict[str, set[tuple[str, int, int]]]:
    """What a from-scratch index of ``seeds`` must hold: chunk text -> its locations."""
    out: dict[str, set] = {}
    for c in chunks_from_scratch(seeds, chunker):
        out.setdefault(c.text, set()).add((c.source, c.start, c.end))
    return out


def embedded_texts(seeds, chunker) -> dict[str, str]:
    """What a from-scratch build of ``seeds`` embeds for each distinct chunk text: the text, after
    the label of its region (a Markdown heading) when it has one."""
    out: dict[str, str] = {}
    for c in chunks_from_scratch(seeds, chunker):
        out.setdefault(c.text, c.embedded_text())
    return out


def expected_embedded(seeds, chunker) -> list[str]:
    return sorted(embedded_texts(seeds, chunker).values())


def check_index(builder: Builder):
    """Load the live index and check it against the corpus on disk; return the snapshot."""
    snap = load(builder.index_dir)
    got = {rec.text: {(l.source, l.start, l.end) for l in rec.locations} for rec in snap.chunks}
    assert got == expected_chunks(builder.seeds_dir, builder.chunker)
    assert [rec.row for rec in snap.chunks] == list(range(len(snap.chunks)))
    assert all(rec.id == chunk_id(rec.text) for rec in snap.chunks)
    assert len(snap.store) == len(snap.chunks)
    if snap.chunks:
        embedded = embedded_texts(builder.seeds_dir, builder.chunker)
        want = np.vstack([fake_vector(embedded[rec.text], builder.embedder.dim) for rec in snap.chunks])
        np.testing.assert_allclose(snap.store.vectors(range(len(snap.chunks))), want, atol=1e-6)
    files = {}
    for source, path in scan(builder.seeds_dir)[0]:
        try:
            files[source] = read_document(path, source).sha256
        except UnreadableDocument:
            pass
    assert {s: m["sha256"] for s, m in snap.manifest["files"].items()} == files
    return snap


def chunk_texts(builder, source) -> set[str]:
    return {c.text for c in builder.chunker.split(source, (builder.seeds_dir / source).read_text())}


def version_dirs(index_dir) -> set[str]:
    return {p.name for p in index_dir.iterdir() if p.is_dir() and p.name.startswith("v-")}


def tree(path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(path)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in path.rglob("*") if p.is_file()} if path.exists() else {}


@pytest.fixture
def builder(corpus, index_dir):
    return make_builder(corpus, index_dir)


@pytest.fixture
def built(builder):
    builder.build()
    builder.embedder.embedded.clear()
    return builder


# --------------------------------------------------------------------------- full build and load

def test_full_build_writes_a_version_and_its_manifest(builder, corpus, index_dir):
    report = builder.build()

    version = json.loads((index_dir / POINTER).read_text())["version"]
    assert version == report.version == current_version(index_dir)
    assert version_dirs(index_dir) == {version}
    folder = index_dir / version
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["format"] == FORMAT
    assert manifest["embedding"] == {"model": "fake-embedder", "dim": 64}
    assert manifest["chunking"] == builder.chunker.settings()
    expected_files = {
        name: {"sha256": hashlib.sha256(text.encode()).hexdigest(), "chars": len(text), "reader": "text-1"}
        for name, text in CORPUS.items()}
    # Markdown is read with its headings, which name where a passage is.
    expected_files["lighthouse.md"].update(reader="markdown-2", regions=[[0, "Harbour Point lighthouse"]])
    assert manifest["files"] == expected_files
    assert manifest["checksums"] == {
        name: hashlib.sha256((folder / name).read_bytes()).hexdigest() for name in ("chunks.jsonl", "vectors.faiss")}

    expected = expected_chunks(corpus, builder.chunker)
    assert len(expected) > 2 * len(CORPUS), "the test corpus should make several chunks per file"
    assert report.added == sorted(CORPUS) and not report.changed and not report.removed
    assert report.chunks_total == report.chunks_embedded == len(expected)
    assert sorted(builder.embedder.embedded) == expected_embedded(corpus, builder.chunker), \
        "each chunk embedded exactly once"
    assert any(t.startswith("Harbour Point lighthouse\n# Harbour") for t in builder.embedder.embedded)
    assert "index version" in report.summary()


def test_load_round_trip(built):
    snap = check_index(built)
    assert snap.version == current_version(built.index_dir)
    assert load(built.index_dir, embed_model="fake-embedder", chunk_settings=built.chunker.settings()).version \
        == snap.version


def test_load_refuses_other_settings(built):
    with pytest.raises(IndexMismatchError, match="embedding model"):
        load(built.index_dir, embed_model="all-MiniLM-L6-v2")
    with pytest.raises(IndexMismatchError, match="chunk settings"):
        load(built.index_dir, chunk_settings=Chunker(built.embedder.count_tokens, 99, 9).settings())


# --------------------------------------------------------------------------- incremental updates

def test_rebuild_with_nothing_changed_embeds_nothing(built):
    before = current_version(built.index_dir)
    report = built.build()
    assert built.embedder.embedded == []
    assert report.up_to_date and report.version == before == current_version(built.index_dir)
    assert report.unchanged == sorted(CORPUS)
    assert version_dirs(built.index_dir) == {before}
    assert "up to date" in report.summary()


def test_adding_a_file_embeds_only_its_chunks(built, corpus):
    (corpus / "volcano.txt").write_text(
        "Mount Vesper erupted in 1783 and covered the valley in ash. "
        "Farmers left the villages for three summers. The crater lake formed in 1790.\n"
        "Today the volcano is watched by a station with 14 seismometers.\n")
    report = built.build()
    assert report.added == ["volcano.txt"]
    assert report.unchanged == sorted(CORPUS)
    new = chunk_texts(built, "volcano.txt")
    assert sorted(built.embedder.embedded) == sorted(new)
    assert report.chunks_embedded == len(new)
    check_index(built)


def test_editing_a_sentence_re_embeds_only_the_changed_chunks(built, corpus):
    old_all = set(expected_chunks(corpus, built.chunker))
    path = corpus / "minerals.txt"
    text = path.read_text()
    assert text.count("110 dollars") == 1
    path.write_text(text.replace("110 dollars", "120 dollars"))

    report = built.build()
    assert report.changed == ["minerals.txt"]
    changed = chunk_texts(built, "minerals.txt") - old_all
    assert changed and len(changed) < len(chunk_texts(built, "minerals.txt"))
    assert all("120 dollars" in t for t in changed)
    assert sorted(built.embedder.embedded) == sorted(changed)
    snap = check_index(built)
    assert not any("110 dollars" in rec.text for rec in snap.chunks)


def test_deleting_a_file_removes_its_vectors(built, corpus):
    before = len(load(built.index_dir).store)
    (corpus / "lighthouse.md").unlink()
    report = built.build()
    assert report.removed == ["lighthouse.md"]
    assert built.embedder.embedded == []
    snap = check_index(built)
    assert len(snap.store) < before
    assert all(l.source != "lighthouse.md" for rec in snap.chunks for l in rec.locations)
    assert "lighthouse.md" not in snap.manifest["files"]


def test_renaming_a_file_embeds_nothing(built, corpus):
    (corpus / "notes" / "bakery.txt").rename(corpus / "rosa.txt")
    report = built.build()
    assert report.renamed == [("notes/bakery.txt", "rosa.txt")]
    assert not report.added and not report.removed
    assert built.embedder.embedded == []
    snap = check_index(built)
    sources = {l.source for rec in snap.chunks for l in rec.locations}
    assert "rosa.txt" in sources and "notes/bakery.txt" not in sources


def test_identical_files_are_indexed_once_with_both_locations(tmp_path, index_dir):
    seeds = write_corpus(tmp_path / "seeds", {"a.txt": CORPUS["lighthouse.md"], "b/copy.txt": CORPUS["lighthouse.md"],
                                              "c.txt": CORPUS["notes/bakery.txt"]})
    builder = make_builder(seeds, index_dir)
    report = builder.build()
    assert report.duplicates == [("a.txt", "b/copy.txt")]
    assert Counter(builder.embedder.embedded).most_common(1)[0][1] == 1
    snap = check_index(builder)
    lighthouse = chunk_texts(builder, "a.txt")
    for rec in snap.chunks:
        if rec.text in lighthouse:
            assert {l.source for l in rec.locations} == {"a.txt", "b/copy.txt"}
    # A third copy added later embeds nothing either.
    builder.embedder.embedded.clear()
    shutil.copy(seeds / "a.txt", seeds / "z.txt")
    builder.build()
    assert builder.embedder.embedded == []
    check_index(builder)


def test_changing_chunk_settings_rebuilds_everything(built, corpus, index_dir):
    builder = make_builder(corpus, index_dir, max_tokens=45, overlap=10)
    report = builder.build()
    assert report.full_rebuild_reason and "chunk" in report.full_rebuild_reason
    assert sorted(builder.embedder.embedded) == expected_embedded(corpus, builder.chunker)
    assert "full rebuild" in report.summary()
    check_index(builder)


def test_changing_the_embedding_model_rebuilds_everything(built, corpus, index_dir):
    builder = make_builder(corpus, index_dir, embedder=FakeEmbedder(name="fake-embedder-v2"))
    report = builder.build()
    assert "embedding model" in report.full_rebuild_reason
    assert sorted(builder.embedder.embedded) == expected_embedded(corpus, builder.chunker)
    assert load(index_dir).manifest["embedding"]["model"] == "fake-embedder-v2"


# --------------------------------------------------------------------------- damage

def _live(index_dir):
    return index_dir / current_version(index_dir)


@pytest.mark.parametrize("damage", ["truncate-vectors", "alter-chunks", "truncate-chunks", "delete-vectors"])
def test_damaged_index_is_detected(built, index_dir, damage):
    folder = _live(index_dir)
    if damage == "truncate-vectors":
        data = (folder / "vectors.faiss").read_bytes()
        (folder / "vectors.faiss").write_bytes(data[: len(data) // 2])
    elif damage == "alter-chunks":
        text = (folder / "chunks.jsonl").read_text()
        (folder / "chunks.jsonl").write_text(text.replace("lighthouse", "lightHOUSE", 1))
    elif damage == "truncate-chunks":
        lines = (folder / "chunks.jsonl").read_text().splitlines(keepends=True)
        (folder / "chunks.jsonl").write_text("".join(lines[:-1]))
    else:
        (folder / "vectors.faiss").unlink()
    with pytest.raises(IndexCorruptError, match="rag index"):
        load(index_dir)
    # The next build notices, says why, and rebuilds from scratch.
    report = built.build()
    assert "cannot be reused" in report.full_rebuild_reason
    check_index(built)


def test_unverified_load_still_rejects_a_truncated_vector_file(built, index_dir):
    path = _live(index_dir) / "vectors.faiss"
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(IndexCorruptError, match="rag index"):
        load(index_dir, verify=False)


def test_unreadable_pointer_or_manifest(built, index_dir):
    (_live(index_dir) / "manifest.json").write_text("{not json")
    with pytest.raises(IndexCorruptError, match="rag index"):
        load(index_dir)
    (index_dir / POINTER).write_text("garbage")
    with pytest.raises(IndexCorruptError, match="rag index"):
        load(index_dir)


def test_missing_pointer(tmp_path, built, index_dir):
    with pytest.raises(IndexMissingError, match="rag index"):
        load(tmp_path / "nowhere")
    (index_dir / POINTER).unlink()
    with pytest.raises(IndexMissingError, match="rag index"):
        load(index_dir)


# --------------------------------------------------------------------------- dry run

def test_dry_run_of_a_first_build_writes_nothing(builder, corpus, index_dir):
    report = builder.build(dry_run=True)
    assert report.dry_run and report.added == sorted(CORPUS)
    assert report.chunks_to_embed == len(expected_chunks(corpus, builder.chunker))
    assert builder.embedder.embedded == []
    assert not index_dir.exists()
    assert "would embed" in report.summary()


def test_dry_run_reports_changes_without_writing(built, corpus, index_dir):
    old_all = set(expected_chunks(corpus, built.chunker))
    (corpus / "lighthouse.md").unlink()
    (corpus / "minerals.txt").write_text(CORPUS["minerals.txt"].replace("six months", "nine months"))
    (corpus / "new.txt").write_text("A brand new document about tidal power stations. It has two sentences.")
    before = tree(index_dir)

    report = built.build(dry_run=True)

    assert (report.added, report.changed, report.removed) == (["new.txt"], ["minerals.txt"], ["lighthouse.md"])
    want = (chunk_texts(built, "new.txt") | chunk_texts(built, "minerals.txt")) - old_all
    assert report.chunks_to_embed == len(want) > 0
    assert built.embedder.embedded == []
    assert tree(index_dir) == before
    # The real build then embeds exactly what the dry run announced.
    real = built.build()
    assert real.chunks_embedded == report.chunks_to_embed
    assert sorted(built.embedder.embedded) == sorted(want)


# --------------------------------------------------------------------------- corpus problems and locking

def test_missing_corpus_folder(tmp_path, index_dir):
    with pytest.raises(CorpusError, match="does not exist"):
        make_builder(tmp_path / "missing", index_dir).build()
    with pytest.raises(CorpusError):
        make_builder(tmp_path / "missing", index_dir).build(dry_run=True)


@pytest.mark.parametrize("files", [{}, {"a.pdf": "x", "b.docx": "y"}, {"empty.txt": "", "blank.md": " \n\n "}])
def test_corpus_with_nothing_to_index(tmp_path, index_dir, files):
    seeds = write_corpus(tmp_path / "seeds", files)
    with pytest.raises(CorpusError, match="nothing to index"):
        make_builder(seeds, index_dir).build()


def test_unreadable_files_are_skipped_with_a_reason(corpus, index_dir):
    (corpus / "empty.txt").write_text("   ")
    (corpus / "binary.txt").write_bytes(b"\x00\x01\x02PK")
    report = make_builder(corpus, index_dir).build()
    reasons = {s.source: s.reason for s in report.skipped}
    assert "empty" in reasons["empty.txt"] and "binary" in reasons["binary.txt"]
    assert load(index_dir).manifest["skipped"]


def test_a_second_concurrent_build_is_refused(builder, index_dir):
    with build_lock(index_dir):
        with pytest.raises(IndexLockedError, match="another rebuild"):
            builder.build()
        assert current_version(index_dir) is None
    builder.build()    # the lock is released: a build now succeeds
    assert current_version(index_dir) is not None


def test_old_versions_are_collected_and_the_newest_old_one_kept(built, corpus, index_dir, monkeypatch):
    # Several rebuilds within one second: the version names then share their time stamp.
    real = time.strftime
    monkeypatch.setattr(rag.index_build.time, "strftime", lambda fmt, *_: real(fmt, time.localtime(2_000_000_000)))
    (index_dir / "v-leftover.tmp").mkdir()
    live = current_version(index_dir)
    for i in range(6):
        (corpus / "counter.txt").write_text(f"This file has been rewritten {i} times by the test.")
        report = built.build()
        assert version_dirs(index_dir) == {report.version, live}, f"after rebuild {i}"
        live = report.version


def test_a_changed_document_reader_rereads_its_files_but_reuses_unchanged_vectors(built, corpus, monkeypatch):
    monkeypatch.setattr(rag.index_plan, "reader_version",
                        lambda path: "text-2" if str(path).endswith(".md") else "text-1")
    report = built.build()
    assert report.changed == ["lighthouse.md"]
    assert built.embedder.embedded == []        # same text, same chunk ids: vectors are reused
    snap = check_index(built)
    assert snap.manifest["files"]["lighthouse.md"]["reader"] == "text-2"
    assert built.build().up_to_date
