"""A rebuild killed at any moment leaves a usable index; the next rebuild cleans up and resumes.

The builds here are real `python -m rag.cli index` processes. A ``sitecustomize`` module on their
PYTHONPATH swaps in the FakeEmbedder, slowed down per chunk, so a build lasts long enough to be
killed mid-way; everything else (CLI, planning, chunking, staging, writing, switching) is the
product's code.
"""
from __future__ import annotations

import fcntl
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from rag.chunk import Chunker
from rag.cli import main
from rag.config import Settings
from rag.errors import IndexCorruptError, IndexLockedError
from rag.index import POINTER, SPOOL, STAGING, _Staging, current_version, load
from rag.pipeline import build_index

from conftest import FakeEmbedder, fake_vector
from test_index import expected_chunks as expected_chunks_of

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent

HOOK = '''
import os
if os.environ.get("RAG_TEST_SLOW_EMBED_S"):
    import sys, time
    sys.path.insert(0, os.environ["RAG_TEST_TESTS_DIR"])
    import rag.pipeline
    from conftest import FakeEmbedder

    _delay = float(os.environ["RAG_TEST_SLOW_EMBED_S"])

    class SlowFakeEmbedder(FakeEmbedder):
        def embed_documents(self, texts):
            time.sleep(_delay * len(texts))
            return super().embed_documents(texts)

    _embedder = SlowFakeEmbedder()
    rag.pipeline.shared_embedder = lambda settings: _embedder
'''

WORDS = ("harbour lighthouse keeper lamp tower cottage museum lens bakery bread starter oven flour rye mineral "
         "agreement tokyo framework price floor kilogram volcano crater ash valley village river bridge mill").split()


def document(i: int, variant: int = 0, sentences: int = 40) -> str:
    """A document with distinct sentences, so nearly every chunk is new text."""
    out = []
    for j in range(sentences):
        w = [WORDS[(i * 7 + j * 3 + k) % len(WORDS)] for k in range(9)]
        out.append(f"Report {i} line {j} version {variant} says the {w[0]} near the {w[1]} held {j * 17 + i} "
                   f"{w[2]} units while the {w[3]} {w[4]} watched the {w[5]} and {w[6]} {w[7]} {w[8]}.")
        if j % 6 == 5:
            out.append("\n")
    return " ".join(out) + "\n"


def write_docs(seeds: Path, docs: dict[str, str]) -> None:
    seeds.mkdir(parents=True, exist_ok=True)
    for name in {p.name for p in seeds.iterdir()} - set(docs):
        (seeds / name).unlink()
    for name, text in docs.items():
        (seeds / name).write_text(text, encoding="utf-8")


def settings_for(seeds: Path, index: Path) -> Settings:
    return Settings(seeds_dir=seeds, index_dir=index)


def expected_chunks(seeds: Path) -> dict[str, set[tuple[str, int, int]]]:
    """What an index of ``seeds`` built with the CLI's settings and the FakeEmbedder must hold."""
    s = Settings()
    return expected_chunks_of(seeds, Chunker(FakeEmbedder().count_tokens, s.chunk_tokens, s.chunk_overlap_tokens))


def index_content(index: Path):
    snap = load(index)
    content = {rec.text: {(l.source, l.start, l.end) for l in rec.locations} for rec in snap.chunks}
    return snap, content


def check_snapshot_vectors(snap) -> None:
    want = np.vstack([fake_vector(rec.text) for rec in snap.chunks])
    np.testing.assert_allclose(snap.store.vectors(range(len(snap.chunks))), want, atol=1e-6)
    assert sorted(snap.store.search(want[0], len(snap.chunks)))[0][0] == 0   # ids are the rows


def ask(snap, question: str) -> str:
    """The text of the best passage for ``question`` (vector retrieval with the FakeEmbedder)."""
    [(row, _score)] = snap.store.search(fake_vector(question), 1)
    return snap.chunks[row].text


def lock_is_free(index: Path) -> bool:
    fd = os.open(index / ".lock", os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False
    finally:
        os.close(fd)


def assert_clean(index: Path) -> None:
    """What a finished build leaves: one live and at most one older version, nothing half-written."""
    names = {p.name for p in index.iterdir()}
    assert not [n for n in names if n.endswith(".tmp")], names
    assert SPOOL not in names and STAGING not in names and POINTER + ".tmp" not in names, names
    versions = {n for n in names if n.startswith("v-")}
    assert current_version(index) in versions and len(versions) <= 2, versions
    assert (index / ".lock").read_text() == "", "a released lock must not name a process"
    assert lock_is_free(index)


@pytest.fixture
def hook_env(tmp_path, monkeypatch):
    """Environment for a CLI build subprocess with the slowed-down FakeEmbedder."""
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(HOOK)

    def env(seeds: Path, index: Path, delay_per_chunk: float) -> dict:
        e = dict(os.environ)
        e.update(RAG_SEEDS_DIR=str(seeds), RAG_INDEX_DIR=str(index), RAG_TEST_TESTS_DIR=str(TESTS),
                 RAG_TEST_SLOW_EMBED_S=str(delay_per_chunk), PYTHONPATH=os.pathsep.join([str(hook), str(REPO)]),
                 PYTHONUNBUFFERED="1")
        return e
    return env


def start_cli_build(env: dict, *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "rag.cli", "index", *args], env=env, cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def staged_records(index: Path) -> int:
    try:
        return len(_Staging(index, {"model": "fake-embedder", "dim": 64}, writable=False).rows)
    except OSError:
        return 0


def kill_when(proc: subprocess.Popen, index: Path, point: str, before: str | None, timeout: float = 60) -> bool:
    """SIGKILL ``proc`` once the build reaches ``point``; True when it was still running then."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if proc.poll() is not None:
            return False
        if point.startswith("after:"):
            reached = time.monotonic() - t0 >= float(point[6:])
        elif point == "chunking":
            reached = (index / SPOOL).exists()
        elif point.startswith("staged:"):
            reached = staged_records(index) >= int(point[7:])
        elif point == "writing":
            reached = index.is_dir() and any(p.name.endswith(".tmp") and p.is_dir() for p in index.iterdir())
        elif point == "switched":
            try:
                reached = current_version(index) not in (None, before)
            except IndexCorruptError:
                reached = False
        else:
            raise ValueError(point)
        if reached:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            return True
        time.sleep(0.002)
    raise AssertionError(f"the build did not reach {point!r} in {timeout} s")


# --------------------------------------------------------------------------- killed builds


KILL_POINTS = ["after:0.3", "chunking", "staged:1", "staged:33", "writing", "switched"]


def test_a_build_killed_at_any_point_leaves_a_whole_index(tmp_path, hook_env):
    seeds, index = tmp_path / "seeds", tmp_path / "index"
    docs = {f"doc{i:02}.txt": document(i) for i in range(12)}
    write_docs(seeds, docs)
    build_index(settings_for(seeds, index), embedder=FakeEmbedder())
    live_content = expected_chunks(seeds)
    killed_mid_build = 0
    for n, point in enumerate(KILL_POINTS, 1):
        # Each round changes the corpus: five files edited, two added, one removed.
        for i in range(5):
            docs[f"doc{(n + i) % 12:02}.txt"] = document((n + i) % 12, variant=n)
        docs[f"new{n:02}a.txt"] = document(100 + n)
        docs[f"new{n:02}b.txt"] = document(200 + n)
        docs.pop(f"doc{(n + 6) % 12:02}.txt", None)
        write_docs(seeds, docs)
        new_content = expected_chunks(seeds)
        before = current_version(index)

        proc = start_cli_build(hook_env(seeds, index, 0.002))
        alive = kill_when(proc, index, point, before)
        killed_mid_build += alive
        print(f"killed at {point}: {'while running' if alive else 'after it ended'}")

        # The index loads, checks out, and is wholly the old or wholly the new corpus.
        snap, content = index_content(index)
        assert content in (live_content, new_content), f"killed at {point}: a mix of two versions"
        check_snapshot_vectors(snap)
        # A query answers from that version: a passage only it holds is found, as the best match.
        if content == new_content:
            only_here = sorted(set(new_content) - set(live_content))
        else:
            assert snap.version == before
            only_here = sorted(set(live_content) - set(new_content))
        assert only_here and ask(snap, only_here[0]) == only_here[0]
        # A normal rebuild then succeeds and cleans up after the dead one.
        report = build_index(settings_for(seeds, index), embedder=FakeEmbedder())
        assert index_content(index)[1] == new_content
        assert_clean(index)
        assert report.version == current_version(index)
        live_content = new_content
    assert killed_mid_build >= len(KILL_POINTS) - 1, "the kills must land while the build runs"


def test_a_killed_build_is_resumed_without_embedding_again(tmp_path, hook_env):
    seeds, index = tmp_path / "seeds", tmp_path / "index"
    write_docs(seeds, {f"doc{i:02}.txt": document(i) for i in range(16)})
    all_chunks = expected_chunks(seeds)
    proc = start_cli_build(hook_env(seeds, index, 0.004))
    assert kill_when(proc, index, "staged:128", None), "the build ended before it could be killed"
    staged = _Staging(index, {"model": "fake-embedder", "dim": 64}, writable=False)
    staged_ids = set(staged.rows)
    staged.close()
    assert 128 <= len(staged_ids) < len(all_chunks)
    assert current_version(index) is None            # nothing went live

    # A dry run says how much is left.
    dry = build_index(settings_for(seeds, index), embedder=FakeEmbedder(), dry_run=True)
    assert dry.chunks_resumed == len(staged_ids)
    assert dry.chunks_to_embed == len(all_chunks) - len(staged_ids)
    assert "already embedded by an interrupted build" in dry.summary()

    embedder = FakeEmbedder()
    report = build_index(settings_for(seeds, index), embedder=embedder)
    from rag.chunk import chunk_id
    assert {chunk_id(t) for t in embedder.embedded} == {chunk_id(t) for t in all_chunks} - staged_ids
    assert len(embedder.embedded) == len(all_chunks) - len(staged_ids), "a chunk was embedded twice"
    assert report.chunks_resumed == len(staged_ids) and report.chunks_embedded == len(embedder.embedded)
    assert "already embedded by an interrupted build" in report.summary()
    snap, content = index_content(index)
    assert content == all_chunks
    check_snapshot_vectors(snap)      # the staged vectors are the right ones, in the right rows
    assert_clean(index)


def test_a_damaged_staging_file_is_cut_at_the_damage(tmp_path):
    index = tmp_path / "index"
    index.mkdir()
    emb = {"model": "fake-embedder", "dim": 64}
    staging = _Staging(index, emb, writable=True)
    texts = [f"passage number {i}" for i in range(10)]
    from rag.chunk import chunk_id
    staging.append([chunk_id(t) for t in texts], np.vstack([fake_vector(t) for t in texts]))
    staging.close()
    data = bytearray((index / STAGING).read_bytes())
    rec = (len(data) - data.index(b"\n") - 1) // 10
    data[data.index(b"\n") + 1 + 6 * rec + 20] ^= 0xFF          # damage record 6
    (index / STAGING).write_bytes(bytes(data[:-rec // 2]))      # and tear the last one
    again = _Staging(index, emb, writable=False)
    assert set(again.rows) == {chunk_id(t) for t in texts[:6]}
    np.testing.assert_allclose(again.vector(chunk_id(texts[5])), fake_vector(texts[5]))
    again.close()
    # Another embedding model's staging file is not used at all.
    assert not _Staging(index, {"model": "other", "dim": 64}, writable=False).rows


# --------------------------------------------------------------------------- locking


def test_a_second_build_while_one_runs_is_refused(tmp_path, hook_env, capsys, monkeypatch):
    import rag.pipeline

    monkeypatch.setattr(rag.pipeline, "shared_embedder", lambda settings: FakeEmbedder())
    seeds, index = tmp_path / "seeds", tmp_path / "index"
    write_docs(seeds, {f"doc{i:02}.txt": document(i) for i in range(12)})
    proc = start_cli_build(hook_env(seeds, index, 0.01))
    try:
        t0 = time.monotonic()
        while not ((index / ".lock").exists() and (index / ".lock").read_text()):
            assert proc.poll() is None and time.monotonic() - t0 < 30
            time.sleep(0.01)
        code = main(["index", "--seeds", str(seeds), "--index", str(index)])
        err = capsys.readouterr().err.strip()
        assert code == 2
        assert len(err.splitlines()) == 1 and err.startswith("rag: error: another rebuild")
        assert f"pid {proc.pid}" in err
        with pytest.raises(IndexLockedError):
            build_index(settings_for(seeds, index), embedder=FakeEmbedder())
    finally:
        proc.kill()
        proc.wait()
    # The dead build's lock file still names it, but the lock died with it.
    assert (index / ".lock").read_text() == str(proc.pid)
    build_index(settings_for(seeds, index), embedder=FakeEmbedder())
    assert index_content(index)[1] == expected_chunks(seeds)
    assert_clean(index)


def test_a_stale_lock_file_does_not_block(tmp_path):
    seeds, index = tmp_path / "seeds", tmp_path / "index"
    write_docs(seeds, {"a.txt": document(1)})
    index.mkdir()
    (index / ".lock").write_text("999999")         # left by a process that no longer exists
    report = build_index(settings_for(seeds, index), embedder=FakeEmbedder())
    assert report.version == current_version(index)
    assert_clean(index)


# --------------------------------------------------------------------------- user mistakes and damage


def test_index_of_a_missing_corpus_folder_creates_nothing(tmp_path, capsys, monkeypatch):
    import rag.pipeline

    monkeypatch.setattr(rag.pipeline, "shared_embedder", lambda settings: FakeEmbedder())
    code = main(["index", "--seeds", str(tmp_path / "does-not-exist"), "--index", str(tmp_path / "index")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1
    assert err.startswith("rag: error: corpus folder") and "does-not-exist" in err and "does not exist" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_index_of_a_file_instead_of_a_folder(tmp_path, capsys, monkeypatch):
    import rag.pipeline

    monkeypatch.setattr(rag.pipeline, "shared_embedder", lambda settings: FakeEmbedder())
    (tmp_path / "notes.txt").write_text("not a folder")
    code = main(["index", "--seeds", str(tmp_path / "notes.txt"), "--index", str(tmp_path / "index")])
    assert code == 2 and "is not a folder" in capsys.readouterr().err
    assert not (tmp_path / "index").exists()


@pytest.mark.parametrize("damage", ["truncate-vectors", "alter-vectors", "alter-chunks", "truncate-chunks"])
def test_a_damaged_index_is_reported_with_the_fix(tmp_path, monkeypatch, capsys, damage):
    import rag.pipeline

    seeds, index = tmp_path / "seeds", tmp_path / "index"
    write_docs(seeds, {"a.txt": document(1), "b.txt": document(2)})
    build_index(settings_for(seeds, index), embedder=FakeEmbedder())
    folder = index / current_version(index)
    vectors, chunks = folder / "vectors.faiss", folder / "chunks.jsonl"
    if damage == "truncate-vectors":
        os.truncate(vectors, vectors.stat().st_size - 100)
    elif damage == "alter-vectors":
        data = bytearray(vectors.read_bytes())
        data[len(data) // 2] ^= 0x01
        vectors.write_bytes(bytes(data))
    elif damage == "alter-chunks":
        chunks.write_text(chunks.read_text().replace("Report 1", "Report 9", 1))
    else:
        os.truncate(chunks, chunks.stat().st_size // 2)
    with pytest.raises(IndexCorruptError, match=r"truncated or altered .*run `rag index --index"):
        load(index)
    # `rag ask` says the same in one line, before any model is loaded.
    monkeypatch.setattr(rag.pipeline, "shared_embedder", lambda settings: FakeEmbedder())
    monkeypatch.setattr(rag.pipeline, "shared_generator", lambda settings: pytest.fail("no model needed"))
    code = main(["ask", "What did report 1 say?", "--seeds", str(seeds), "--index", str(index)])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and "rag index" in err and "altered" in err
    # And `rag index` repairs it.
    assert main(["index", "--seeds", str(seeds), "--index", str(index)]) == 0
    assert "cannot be reused" in capsys.readouterr().out
    assert index_content(index)[1] == expected_chunks(seeds)


# --------------------------------------------------------------------------- the real embedding model


def staging_count(index: Path) -> int:
    """Complete records in the staging file, whatever the embedding model."""
    try:
        header = (index / STAGING).open("rb").readline()
        emb = json.loads(header)["embedding"]
        return len(_Staging(index, emb, writable=False).rows)
    except (OSError, ValueError):
        return 0


@pytest.mark.integration
def test_real_cli_build_killed_while_embedding_resumes(tmp_path):
    """`rag index` with the real model, killed once part of the new chunks are embedded: the index
    still answers, and the next `rag index` embeds only what the killed one had not."""
    seeds, index = tmp_path / "seeds", tmp_path / "index"
    write_docs(seeds, {f"doc{i:02}.txt": document(i, sentences=30) for i in range(2)})
    env = dict(os.environ, RAG_SEEDS_DIR=str(seeds), RAG_INDEX_DIR=str(index))
    rag_cmd = [str(Path(sys.executable).with_name("rag")), "index"]
    first = subprocess.run(rag_cmd, env=env, capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stderr
    old_version = current_version(index)
    write_docs(seeds, {f"doc{i:02}.txt": document(i, sentences=30) for i in range(2, 20)})
    proc = subprocess.Popen(rag_cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    t0 = time.monotonic()
    while staging_count(index) < 32:
        assert proc.poll() is None, "the build ended before it could be killed: " + proc.stderr.read()[-500:]
        assert time.monotonic() - t0 < 300
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    staged = staging_count(index)
    assert staged >= 32 and current_version(index) == old_version
    snap = load(index)                              # the old version is whole and answers
    assert {l.source for rec in snap.chunks for l in rec.locations} == {"doc00.txt", "doc01.txt"}

    second = subprocess.run(rag_cmd, env=env, capture_output=True, text=True, timeout=300)
    assert second.returncode == 0, second.stderr
    first_line = second.stdout.splitlines()[0]
    m = re.search(r"embedded (\d+) \((\d+) more were already embedded by an interrupted build", first_line)
    assert m, second.stdout
    embedded, resumed = int(m.group(1)), int(m.group(2))
    print(f"\nkilled after {staged} staged vectors; the next `rag index`: {first_line}")
    assert resumed == staged
    snap = load(index)
    assert embedded + resumed == len(snap.chunks) and len(snap.store) == len(snap.chunks)
    assert_clean(index)
    # Retrieval with the real model finds a passage by its own words.
    from rag.embed import make_embedder

    embedder = make_embedder(Settings(seeds_dir=seeds, index_dir=index))
    target = snap.chunks[len(snap.chunks) // 2]
    [(row, score)] = snap.store.search(embedder.embed_query(target.text), 1)
    assert snap.chunks[row].id == target.id and score > 0.95


def test_rag_index_dry_run_prints_the_plan_by_name(tmp_path, capsys, monkeypatch):
    import rag.pipeline

    monkeypatch.setattr(rag.pipeline, "shared_embedder", lambda settings: FakeEmbedder())
    seeds, index = tmp_path / "seeds", tmp_path / "index"
    write_docs(seeds, {"a.txt": document(1), "b.txt": document(2), "c.txt": document(3)})
    assert main(["index", "--seeds", str(seeds), "--index", str(index)]) == 0
    write_docs(seeds, {"a.txt": document(1), "b.txt": document(2, variant=1), "d.txt": document(4)})
    capsys.readouterr()
    before = sorted(p.name for p in index.iterdir())
    assert main(["index", "--dry-run", "--seeds", str(seeds), "--index", str(index)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("1 added, 1 changed, 1 removed, 0 renamed, 1 unchanged, 0 skipped;")
    assert {"  added: d.txt", "  changed: b.txt", "  removed: c.txt", "  unchanged: a.txt"} <= set(out)
    assert re.search(r"would embed \d+$", out[0])
    assert sorted(p.name for p in index.iterdir()) == before
