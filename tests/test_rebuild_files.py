"""Files that cannot be indexed never stop a rebuild; big files are read in bounded memory;
near-duplicate documents are found; the dry run and progress bars say what happens."""
from __future__ import annotations

import hashlib
import json
import io
import os
import re
import threading
import time
from pathlib import Path

import numpy as np
import psutil
import pytest

import rag
import rag.documents
from rag.chunk import Chunker
from rag.documents import iter_text, probe_text, read_text
from rag.index import Builder, load

from conftest import CORPUS, FakeEmbedder, run_unprivileged, write_corpus
from test_documents import make_pdf


def make_builder(seeds, index, embedder=None, max_tokens=60, overlap=10, **kw) -> Builder:
    embedder = embedder or FakeEmbedder()
    return Builder(seeds, index, embedder, Chunker(embedder.count_tokens, max_tokens, overlap), **kw)


def indexed_text(index: Path, source: str) -> str:
    """All chunk texts of ``source`` in the live index, in order, joined."""
    snap = load(index)
    parts = sorted((l.start, rec.text) for rec in snap.chunks for l in rec.locations if l.source == source)
    return " ".join(t for _, t in parts)


def encrypted_pdf() -> bytes:
    from pypdf import PdfWriter

    writer = PdfWriter(clone_from=io.BytesIO(make_pdf(["Top secret text about the treaty."])))
    writer.encrypt("s3cret")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


# --------------------------------------------------------------------------- bad files

def test_bad_files_are_skipped_with_a_reason_and_the_rest_is_indexed(tmp_path):
    seeds = write_corpus(tmp_path / "seeds")                     # three good documents
    good = dict(CORPUS)
    (seeds / "empty.txt").write_bytes(b"")
    (seeds / "blank.md").write_text("  \n\t\n   ")
    (seeds / "photo.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 8)
    cp1252 = "The café on the quay served crème brûlée; its “résumé” listed 5 € coffees.\n" * 3
    (seeds / "windows.txt").write_bytes(cp1252.encode("cp1252"))
    latin1 = "Grüße aus Köln: the señor ordered açaí at the Straßenfest.\n" * 3
    (seeds / "latin.txt").write_bytes(latin1.encode("latin-1"))
    utf16 = "Tōkyō and Kyōto signed the Übereinkunft about naïve façades.\n" * 3
    (seeds / "wide.txt").write_bytes(utf16.encode("utf-16"))                  # with BOM
    broken = ("The naïve café reopened in spring. " * 10 + "\n").encode() + b"A stray \xff byte here. " \
        + ("Its déjà vu menu returned.\n" * 5).encode()
    (seeds / "broken-utf8.txt").write_bytes(broken)
    (seeds / "bad.pdf").write_bytes(b"%PDF-1.4\n1 0 obj << /Type /Catalog garbage")
    (seeds / "locked.pdf").write_bytes(encrypted_pdf())
    (seeds / "good.pdf").write_bytes(make_pdf(["The harbour pilot boards ships at the outer buoy."]))
    outside = tmp_path / "outside.txt"
    outside.write_text("Text outside the corpus must not be indexed.")
    (seeds / "outside-link.txt").symlink_to(outside)
    (seeds / "loop.txt").symlink_to(seeds / "loop.txt")                       # a symlink loop
    (seeds / "sub").mkdir()
    (seeds / "sub" / "up").symlink_to(seeds, target_is_directory=True)       # a folder loop
    (seeds / "folder.txt").mkdir()                                           # a folder, not a file
    os.mkfifo(seeds / "pipe.txt")                                            # reading it would block
    (seeds / "data.xyz").write_text("a,b\n1,2\n")
    (seeds / "Makefile").write_text("all:\n")
    (seeds / "copy-of-bakery.txt").write_text(CORPUS["notes/bakery.txt"])
    builder = make_builder(seeds, tmp_path / "index")
    report = builder.build()

    reasons = {s.source: s.reason for s in report.skipped}
    assert all(reason and "\n" not in reason and len(reason) < 200 for reason in reasons.values())
    assert "empty" in reasons["empty.txt"] and "empty" in reasons["blank.md"]
    assert "binary" in reasons["photo.txt"]
    assert "malformed PDF" in reasons["bad.pdf"]
    assert reasons["locked.pdf"] == "encrypted PDF"
    assert "symbolic link" in reasons["outside-link.txt"] and "symbolic link" in reasons["loop.txt"]
    assert "symbolic link" in reasons["sub/up"]
    assert reasons["pipe.txt"] == "not a regular file"
    assert "unsupported file type .xyz" in reasons["data.xyz"] and "unsupported" in reasons["Makefile"]
    summary = report.summary()
    for source, reason in reasons.items():
        assert f"  skipped: {source}: {reason}" in summary.splitlines()

    indexed = set(good) | {"windows.txt", "latin.txt", "wide.txt", "broken-utf8.txt", "good.pdf",
                           "copy-of-bakery.txt"}
    assert sorted(report.added) == sorted(indexed)
    snap = load(builder.index_dir)
    assert set(snap.manifest["files"]) == indexed
    assert {l.source for rec in snap.chunks for l in rec.locations} == indexed
    # Other encodings are decoded to the right characters, and citations index that same text.
    assert "crème brûlée" in indexed_text(builder.index_dir, "windows.txt")
    assert "“résumé”" in indexed_text(builder.index_dir, "windows.txt")
    assert "Köln" in indexed_text(builder.index_dir, "latin.txt")
    assert "Übereinkunft" in indexed_text(builder.index_dir, "wide.txt")
    assert "déjà vu" in indexed_text(builder.index_dir, "broken-utf8.txt")
    assert "A stray \ufffd byte" in indexed_text(builder.index_dir, "broken-utf8.txt")
    for rec in snap.chunks:
        for loc in rec.locations:
            assert read_text(seeds / loc.source)[loc.start:loc.end] == rec.text
    assert "outside the corpus" not in " ".join(rec.text for rec in snap.chunks)
    # Identical files: each passage indexed once, naming both files.
    assert report.duplicates == [("copy-of-bakery.txt", "notes/bakery.txt")]
    assert "same content: notes/bakery.txt (indexed once with copy-of-bakery.txt)" in summary
    bakery = [rec for rec in snap.chunks if "Rosa's Bakery" in rec.text]
    assert bakery and all({l.source for l in rec.locations} == {"copy-of-bakery.txt", "notes/bakery.txt"}
                          for rec in bakery)
    texts = [t for t in builder.embedder.embedded]
    assert len(texts) == len(set(texts)) == len(snap.chunks)


def test_files_and_folders_without_permission_are_skipped_in_a_real_build(shared_dir):
    # Built as an ordinary user, so the refusals are the operating system's own (EACCES).
    seeds = write_corpus(shared_dir / "seeds", {"lighthouse.md": CORPUS["lighthouse.md"],
                                                "secret.txt": "Nobody may read this file.",
                                                "private/plans.txt": "Nobody may list this folder."})
    (seeds / "secret.txt").chmod(0)
    (seeds / "private").chmod(0o700)
    (shared_dir / "index").mkdir(mode=0o777)
    (shared_dir / "index").chmod(0o777)
    setup = """
        import json, sys
        from pathlib import Path
        import rag.index, rag.documents, rag.chunk
        from rag.chunk import Chunker
        from rag.index import Builder
        from conftest import FakeEmbedder
    """
    work = """
        embedder = FakeEmbedder()
        builder = Builder(Path(sys.argv[1]), Path(sys.argv[2]), embedder, Chunker(embedder.count_tokens, 60, 10))
        report = builder.build()
        print(json.dumps({"added": report.added, "skipped": {s.source: s.reason for s in report.skipped},
                          "summary": report.summary()}))
    """
    proc = run_unprivileged(setup, work, str(seeds), str(shared_dir / "index"))
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads(proc.stdout)
    assert report["added"] == ["lighthouse.md"]
    assert report["skipped"] == {"secret.txt": "permission denied", "private/": "folder not read: permission denied"}
    assert "  skipped: secret.txt: permission denied" in report["summary"].splitlines()


def test_a_pdf_over_its_time_limit_is_skipped(tmp_path, monkeypatch):
    seeds = write_corpus(tmp_path / "seeds")
    (seeds / "slow.pdf").write_bytes(make_pdf(["First page.", "Second page.", "Third page."]))
    monkeypatch.setattr(rag.documents, "PDF_TIME_BUDGET_S", -1.0)     # every PDF is already over
    report = make_builder(seeds, tmp_path / "index").build()
    assert {s.source: s.reason for s in report.skipped} == {"slow.pdf": "PDF text extraction took too long (over -1 s)"}
    assert sorted(report.added) == sorted(CORPUS)


@pytest.mark.parametrize("encoding, sample", [
    ("utf-8", "Ça coûte 5 € — naïve"), ("utf-8-sig", "Ça coûte 5 €"), ("utf-16", "Ça coûte 5 € 東京"),
    ("cp1252", "Ça coûte 5 € “quoted”"), ("latin-1", "Ça coûte 5 ¤ señor"),
])
def test_block_by_block_decoding_equals_whole_file_decoding(tmp_path, encoding, sample):
    text = "".join(f"Line {i}: {sample}.\n" for i in range(3000))
    path = tmp_path / "a.txt"
    path.write_bytes(text.encode(encoding))
    probe = probe_text(path, block=1000)
    assert probe.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    pieces = list(iter_text(path, probe, block=1000))
    assert len(pieces) > 10
    assert "".join(pieces) == read_text(path) == text


def test_a_one_megabyte_single_line(tmp_path):
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    line = " ".join(f"w{i % 9973}" for i in range(200_000))[: (1 << 20) + 50_001]     # no newline, no full stop
    (seeds / "oneline.txt").write_text(line)
    write_corpus(seeds)
    builder = make_builder(seeds, tmp_path / "index")
    report = builder.build()
    assert "oneline.txt" in report.added and not report.skipped
    snap = load(builder.index_dir)
    spans = sorted((l.start, l.end) for rec in snap.chunks for l in rec.locations if l.source == "oneline.txt")
    assert spans[0][0] == 0 and spans[-1][1] == len(line)
    assert all(not line[a[1]:b[0]].strip() for a, b in zip(spans, spans[1:])), "text in no chunk"
    assert all(line[a:b].strip() == line[a:b] for a, b in spans)


# --------------------------------------------------------------------------- a 100 MB file

class FastFakeEmbedder:
    """Hash-based vectors (a chunk's blake2b digest) and a length-based token count: fast enough
    for a 100 MB corpus, still deterministic, and recording how many texts it embedded."""
    name = "fast-fake-embedder"
    dim = 64

    def __init__(self):
        self.count = 0

    def embed_documents(self, texts):
        self.count += len(texts)
        raw = b"".join(hashlib.blake2b(t.encode(), digest_size=64).digest() for t in texts)
        v = np.frombuffer(raw, dtype=np.uint8).reshape(len(texts), 64).astype(np.float32) - 127.5
        return v / np.linalg.norm(v, axis=1, keepdims=True)

    def embed_query(self, text):
        return self.embed_documents([text])[0]

    def count_tokens(self, texts):
        return [len(t) // 5 + 1 for t in texts]


def write_big_file(path: Path, size: int) -> None:
    """``size`` bytes of prose-like text whose sentences are all different."""
    base = "".join(f"Entry # {i} says the lighthouse keeper logged {i * 37 % 1000} ships and the tide "
                   f"rose by {i % 17} feet near the harbour wall. " + ("\n" if i % 7 == 6 else "")
                   for i in range(8000))
    with open(path, "w", encoding="utf-8") as f:
        written, k = 0, 0
        while written < size:
            block = base.replace("#", str(k))[: size - written]
            f.write(block)
            written += len(block)
            k += 1


def test_a_100_megabyte_file_is_indexed_in_bounded_memory(tmp_path):
    seeds = write_corpus(tmp_path / "seeds")
    big = seeds / "big.txt"
    write_big_file(big, 100 * 1024 * 1024)
    assert big.stat().st_size == 100 * 1024 * 1024
    embedder = FastFakeEmbedder()
    progress = []
    builder = Builder(seeds, tmp_path / "index", embedder, Chunker(embedder.count_tokens, 200, 40),
                      progress=lambda done, total: progress.append((done, total)))
    proc = psutil.Process()
    base = proc.memory_info().rss
    peak = [base]
    stop = threading.Event()

    def sample():
        while not stop.is_set():
            peak[0] = max(peak[0], proc.memory_info().rss)
            time.sleep(0.005)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    t0 = time.monotonic()
    try:
        report = builder.build()
    finally:
        stop.set()
        sampler.join()
    seconds = time.monotonic() - t0
    growth = (peak[0] - base) / 2**20
    print(f"\n100 MB build: {seconds:.1f} s, {report.chunks_total} chunks, peak RSS growth {growth:.0f} MiB")
    assert "big.txt" in report.added and not report.skipped
    assert report.chunks_embedded == embedder.count == report.chunks_total > 100_000
    # Loading it whole holds the bytes and the decoded text (200 MiB) plus every chunk's text and
    # the vectors: about 420 MiB here. Read block by block, what remains is the vector index
    # itself (about 120,000 vectors and the index structure) and a few bytes per chunk.
    assert growth < 200, f"peak memory grew by {growth:.0f} MiB"
    assert progress[-1] == (report.chunks_embedded, report.chunks_embedded) and len(progress) > 1000
    snap = load(builder.index_dir)
    assert snap.manifest["files"]["big.txt"]["chars"] == big.stat().st_size
    last = max((rec for rec in snap.chunks if rec.locations[0].source == "big.txt"),
               key=lambda rec: rec.locations[0].end)
    assert last.locations[0].end == big.stat().st_size
    assert seconds < 60
    big.unlink()        # pytest keeps the folders of recent runs; not this file


# --------------------------------------------------------------------------- near-duplicates

STORY_A = ("The United States and Japan signed a framework on rare earths in Tokyo on Tuesday. "
           "The deal covers mining, recycling, stockpiling and investment in critical minerals. "
           "Japanese firms plan to invest up to 400 billion dollars in American projects.\n"
           "A price floor of 110 dollars per kilogram was set for NdPr oxide by the partners. "
           "Officials said the first joint projects would begin within six months of signing.\n"
           "The framework includes no direct financial commitments from either government.\n")
STORY_B = ("In Tokyo the United States and Japan signed a framework on rare earths on Tuesday. "
           "The deal covers mining, recycling, stockpiling and new investment in critical minerals. "
           "Japanese firms plan to invest as much as 400 billion dollars in American projects.\n"
           "A price floor of 110 dollars per kilogram was agreed for NdPr oxide by the partners. "
           "Officials said the first joint projects would start within six months of signing.\n"
           "The framework includes no direct financial commitment from either of the governments.\n")


def test_near_duplicate_documents_are_reported_and_remembered(tmp_path):
    others = {k: v for k, v in CORPUS.items() if k != "minerals.txt"}      # that one tells the story too
    seeds = write_corpus(tmp_path / "seeds", {**others, "news/a.md": STORY_A, "news/b.txt": STORY_B})
    builder = make_builder(seeds, tmp_path / "index", max_tokens=30, overlap=0)
    report = builder.build()
    assert [(a, b) for a, b, _ in report.near_duplicates] == [("news/a.md", "news/b.txt")]
    share = report.near_duplicates[0][2]
    assert 0.5 <= share <= 1.0
    assert f"near-duplicates: news/a.md ~ news/b.txt ({share:.0%} of passages shared)" in report.summary()
    # Nothing changed: the next `rag index` still says so, from the manifest.
    again = builder.build()
    assert again.up_to_date and again.near_duplicates == report.near_duplicates
    assert "near-duplicates: news/a.md ~ news/b.txt" in again.summary()
    assert load(builder.index_dir).manifest["near_duplicates"] == [list(p) for p in report.near_duplicates]
    # Unrelated documents are not near-duplicates; once one story is rewritten, the pair is gone.
    (seeds / "news/b.txt").write_text("The ferry timetable changes in winter. Boats leave every two hours.\n")
    assert builder.build().near_duplicates == []


def test_identical_files_are_not_reported_as_near_duplicates(tmp_path):
    seeds = write_corpus(tmp_path / "seeds", {**CORPUS, "a.md": STORY_A, "b.md": STORY_A, "c.md": STORY_A})
    report = make_builder(seeds, tmp_path / "index", max_tokens=30, overlap=0).build()
    assert report.duplicates == [("a.md", "b.md"), ("a.md", "c.md")]
    # The three copies are one document; minerals.txt tells the same story in other words.
    assert [(a, b) for a, b, _ in report.near_duplicates] == [("a.md", "minerals.txt"), ("b.md", "minerals.txt"),
                                                              ("c.md", "minerals.txt")]


# --------------------------------------------------------------------------- dry run and progress

def test_dry_run_lists_every_file_by_name(tmp_path):
    seeds = write_corpus(tmp_path / "seeds")
    builder = make_builder(seeds, tmp_path / "index")
    builder.build()
    (seeds / "lighthouse.md").write_text(CORPUS["lighthouse.md"].replace("1871", "1872"))
    (seeds / "minerals.txt").unlink()
    (seeds / "tides.txt").write_text("The spring tide rose four metres. The harbour flooded twice.\n")
    (seeds / "notes" / "ignored.xyz").write_text("?")
    before = {p.name: p.stat().st_mtime_ns for p in builder.index_dir.iterdir()}
    embedded_before = len(builder.embedder.embedded)
    report = builder.build(dry_run=True)
    lines = report.summary().splitlines()
    for line in ("  added: tides.txt", "  changed: lighthouse.md", "  removed: minerals.txt",
                 "  unchanged: notes/bakery.txt", "  skipped: notes/ignored.xyz: unsupported file type .xyz"):
        assert line in lines
    chunker = builder.chunker
    old = {rec.id for rec in load(builder.index_dir).chunks}
    want = {c.id for name in ("tides.txt", "lighthouse.md")
            for c in chunker.split(name, (seeds / name).read_text())} - old
    assert report.chunks_to_embed == len(want) > 0
    assert f"would embed {len(want)}" in lines[0]
    assert {p.name: p.stat().st_mtime_ns for p in builder.index_dir.iterdir()} == before
    assert len(builder.embedder.embedded) == embedded_before      # the dry run embedded nothing


def test_dry_run_says_a_changed_model_or_chunking_means_a_full_rebuild(tmp_path):
    seeds = write_corpus(tmp_path / "seeds")
    make_builder(seeds, tmp_path / "index").build()
    report = make_builder(seeds, tmp_path / "index", max_tokens=80).build(dry_run=True)
    assert report.summary().startswith(
        "full rebuild: chunk settings changed (max_tokens 60 -> 80); every chunk is embedded again")
    report = make_builder(seeds, tmp_path / "index", embedder=FakeEmbedder("other-model")).build(dry_run=True)
    assert report.summary().startswith("full rebuild: embedding model changed (fake-embedder -> other-model)")
    assert sorted(report.added) == sorted(CORPUS)


def test_progress_bars_show_count_and_rate(tmp_path, capsys):
    seeds = write_corpus(tmp_path / "seeds")
    report = make_builder(seeds, tmp_path / "index", show_progress=True).build()
    err = capsys.readouterr().err
    n = report.chunks_embedded
    assert "embedding: 100%" in err and f"{n}/{n}" in err and "chunk/s" in err
    assert re.search(r"\[\d\d:\d\d<\d\d:\d\d", err), "elapsed<remaining (the ETA) is shown"
    assert "reading: 100%" in err


@pytest.mark.integration
def test_the_two_seed_articles_are_near_duplicates(tmp_path):
    """The two seed documents report the same story in different words; the real model sees it."""
    from rag.config import REPO_ROOT

    report = rag.build_index(seeds_dir=REPO_ROOT / "seeds", index_dir=tmp_path / "index")
    [(a, b, share)] = report.near_duplicates
    assert (a, b) == ("000_6c8929107dbb06fd.txt", "001_7c815ff16a19c5d7.txt") and share >= 0.5
    assert f"near-duplicates: {a} ~ {b} ({share:.0%} of passages shared)" in report.summary()


def test_a_long_list_of_near_duplicates_is_cut_short_in_the_summary(tmp_path):
    seeds = write_corpus(tmp_path / "seeds", {f"edition{i}.md": STORY_A + f"Printed in edition {i}.\n"
                                              for i in range(7)})
    report = make_builder(seeds, tmp_path / "index", max_tokens=30, overlap=0).build()
    assert len(report.near_duplicates) == 21            # every pair of the seven editions
    lines = [line for line in report.summary().splitlines() if "near-duplicates" in line]
    assert len(lines) == 11 and lines[-1] == "  near-duplicates: … and 11 more pairs (listed in the index manifest)"
    assert len(load(tmp_path / "index").manifest["near_duplicates"]) == 21


def test_a_pdf_page_that_takes_too_long_is_stopped(tmp_path, monkeypatch):
    """One page whose text takes seconds to extract: the time limit is enforced by stopping the
    worker process that reads it, not only checked between pages."""
    seeds = write_corpus(tmp_path / "seeds")
    words = " ".join(f"(w{i}) Tj" for i in range(600_000)).encode()
    (seeds / "huge-page.pdf").write_bytes(make_pdf(["x"]).replace(b"(x) Tj", words))
    (seeds / "fine.pdf").write_bytes(make_pdf(["The harbour pilot boards ships at the outer buoy."]))
    (seeds / "later.pdf").write_bytes(make_pdf(["The ferry leaves the quay at noon."]))
    monkeypatch.setattr(rag.documents, "PDF_TIME_BUDGET_S", 0.5)
    t0 = time.monotonic()
    report = make_builder(seeds, tmp_path / "index").build()
    elapsed = time.monotonic() - t0
    assert {s.source: s.reason for s in report.skipped} == {
        "huge-page.pdf": "PDF text extraction took too long (over 0.5 s)"}
    assert sorted(report.added) == sorted([*CORPUS, "fine.pdf", "later.pdf"])   # PDFs after it still work
    assert elapsed < 15, f"the build waited {elapsed:.0f} s for the PDF"


def test_near_duplicates_over_budget_are_not_checked_and_it_says_so(tmp_path, monkeypatch):
    import rag.index_duplicates

    monkeypatch.setattr(rag.index_duplicates, "NEAR_DUPLICATE_BUDGET", 10)
    seeds = write_corpus(tmp_path / "seeds", {"a.md": STORY_A, "b.txt": STORY_B})
    builder = make_builder(seeds, tmp_path / "index", max_tokens=30, overlap=0)
    report = builder.build()
    assert report.near_duplicates == [] and not report.near_duplicates_checked
    assert "  near-duplicates: not checked (too many passages for the check's budget)" in report.summary()
    again = builder.build()
    assert again.up_to_date and not again.near_duplicates_checked
