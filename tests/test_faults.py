"""Faults: a missing, truncated or altered model file, a missing or damaged index, a full disk during
a rebuild, a process killed while it answers. Each gives a clear one-line message, loses nothing,
and the next start works.
"""
from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import rag.index as index_mod
import rag.index_versions
import rag.store as store_mod
from rag import cli, models
from rag.keywords import KEYWORD_DIR
from rag.config import REPO_ROOT, Settings
from rag.documents import read_text
from rag.errors import (IndexCorruptError, IndexWriteError, ModelError)
from rag.index import POINTER, current_version, load
from rag.pipeline import Engine, build_index

from conftest import FakeEmbedder, FakeGenerator, echo_passage

SEEDS = REPO_ROOT / "seeds"


def one_line(err: BaseException) -> str:
    text = str(err)
    assert text and "\n" not in text and "Traceback" not in text
    return text


# --------------------------------------------------------------------------- model files


@pytest.fixture
def tiny_model(tmp_path, monkeypatch):
    """A known model whose 'file' is 4 KiB, so checks run on real files in no time."""
    data = b"GGUF" + bytes(range(256)) * 16
    spec = models.ModelSpec(name="tiny-test-model", filename="tiny.gguf", size=len(data),
                            sha256=hashlib.sha256(data).hexdigest(), packages=(), description="test")
    monkeypatch.setitem(models.KNOWN_MODELS, spec.name, spec)
    models_dir = tmp_path / "models"
    models_dir.mkdir()
    return spec, models_dir, data


def test_a_missing_model_names_the_command_that_fetches_it(tiny_model):
    spec, models_dir, data = tiny_model
    with pytest.raises(ModelError) as err:
        models.resolve(spec.name, models_dir)
    msg = one_line(err.value)
    assert "missing" in msg and f"rag models fetch {spec.name}" in msg
    (models_dir / spec.filename).write_bytes(data)        # fetched: the next start works
    assert models.resolve(spec.name, models_dir) == (spec.name, models_dir / spec.filename)


def test_a_truncated_model_is_reported_without_hashing_it(tiny_model, monkeypatch):
    spec, models_dir, data = tiny_model
    (models_dir / spec.filename).write_bytes(data[:1000])
    monkeypatch.setattr(models, "sha256_file", lambda p: pytest.fail("a wrong size needs no hash"))
    with pytest.raises(ModelError) as err:
        models.resolve(spec.name, models_dir)
    msg = one_line(err.value)
    assert "truncated" in msg and "1,000 bytes" in msg and f"rag models fetch {spec.name}" in msg


def test_a_model_with_the_wrong_checksum_is_refused_and_not_stamped(tiny_model):
    spec, models_dir, data = tiny_model
    path = models_dir / spec.filename
    path.write_bytes(data[:-1] + b"!")
    with pytest.raises(ModelError) as err:
        models.resolve(spec.name, models_dir)
    assert "sha256" in one_line(err.value) and f"rag models fetch {spec.name}" in str(err.value)
    assert not models._stamp_path(path).exists()
    path.write_bytes(data)
    models.resolve(spec.name, models_dir)
    assert models._stamp_path(path).exists()


def test_a_verified_model_is_hashed_once_and_any_change_is_caught(tiny_model, monkeypatch):
    spec, models_dir, data = tiny_model
    path = models_dir / spec.filename
    path.write_bytes(data)
    hashed = []
    real = models.sha256_file
    monkeypatch.setattr(models, "sha256_file", lambda p: hashed.append(p) or real(p))
    models.verify(path, spec)
    models.verify(path, spec)
    models.verify(path, spec)
    assert len(hashed) == 1                               # the stamp spares the next checks
    # Same size, and even the old modification time put back: the change is still caught.
    st = path.stat()
    time.sleep(0.01)
    with open(path, "r+b") as f:
        f.seek(100)
        f.write(b"\xff")
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    with pytest.raises(ModelError, match="sha256"):
        models.verify(path, spec)
    assert len(hashed) == 2


def test_a_damaged_stamp_only_costs_a_new_hash(tiny_model):
    spec, models_dir, data = tiny_model
    path = models_dir / spec.filename
    path.write_bytes(data)
    models._stamp_path(path).write_text('{"sha256": "trunc')
    models.verify(path, spec)
    assert json.loads(models._stamp_path(path).read_text())["sha256"] == spec.sha256


def test_rag_ask_with_a_missing_model_prints_one_line(tmp_path, monkeypatch, capsys, corpus):
    monkeypatch.setattr("rag.pipeline.shared_embedder", lambda settings: FakeEmbedder())
    monkeypatch.setenv("RAG_MODELS_DIR", str(tmp_path / "empty-models"))
    code = cli.main(["ask", "--seeds", str(corpus), "--index", str(tmp_path / "index"),
                     "When was the Harbour Point lighthouse built?"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    [line] = [l for l in err if l.startswith("rag:")]
    assert line.startswith("rag: error: model qwen2.5-coder-0.5b is missing")
    assert "rag models fetch qwen2.5-coder-0.5b" in line


@pytest.mark.integration
def test_a_truncated_gguf_file_given_by_path_is_a_model_error(tmp_path):
    src = Path(models.KNOWN_MODELS["qwen2.5-coder-0.5b"].filename)
    real = REPO_ROOT / "models" / src
    broken = tmp_path / "cut.gguf"
    with open(real, "rb") as f:
        broken.write_bytes(f.read(8 << 20))
    code = ("from rag.generate import LlamaCppGenerator\n"
            "from rag.errors import ModelError\n"
            f"g = LlamaCppGenerator({str(broken)!r})\n"
            "try:\n    g.warm_up()\nexcept ModelError as e:\n    print('ModelError:', e)\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    [line] = [l for l in proc.stdout.splitlines() if l.startswith("ModelError:")]
    assert "could not load" in line and "truncated" in line


# --------------------------------------------------------------------------- the index


@pytest.fixture
def settings(corpus, tmp_path):
    return Settings(seeds_dir=corpus, index_dir=tmp_path / "index", models_dir=tmp_path / "no-models",
                    chunk_tokens=40, chunk_overlap_tokens=8, top_k=3, candidates=10)


def fake_engine(settings) -> Engine:
    return Engine(settings, embedder=FakeEmbedder(), generator=FakeGenerator(echo_passage(1)))


QUESTION = "When was the Harbour Point lighthouse built?"


def test_a_missing_index_is_built_on_the_first_question(settings):
    assert not settings.index_dir.exists()
    a = fake_engine(settings).answer(QUESTION)
    assert "1871" in a.answer and current_version(settings.index_dir) == a.index_version


@pytest.mark.parametrize("damage", ["chunks", "vectors", "manifest", "pointer"])
def test_a_damaged_index_names_the_fix_and_the_fix_works(settings, damage):
    build_index(settings, embedder=FakeEmbedder())
    version = current_version(settings.index_dir)
    folder = settings.index_dir / version
    if damage == "chunks":
        (folder / "chunks.jsonl").write_text('{"row": 0, "id": "x"')
    elif damage == "vectors":
        data = (folder / "vectors.faiss").read_bytes()
        (folder / "vectors.faiss").write_bytes(data[: len(data) // 2])
    elif damage == "manifest":
        (folder / "manifest.json").write_text("{")
    else:
        (settings.index_dir / POINTER).write_text("garbage")
    with pytest.raises(IndexCorruptError) as err:
        fake_engine(settings).answer(QUESTION)
    assert "`rag index" in one_line(err.value)
    report = build_index(settings, embedder=FakeEmbedder())            # the fix the message names
    assert report.version != version
    a = fake_engine(settings).answer(QUESTION)
    assert "1871" in a.answer and a.index_version == report.version


def _index_state(index_dir: Path) -> tuple[str, list[str]]:
    """The live version and the index folder's entries (but the staging file of embedded vectors,
    which a failed build keeps on purpose so the next one need not embed them again)."""
    return current_version(index_dir), sorted(p.name for p in index_dir.iterdir() if p.name != index_mod.STAGING)


def _count_fsyncs(settings, monkeypatch) -> int:
    calls = []
    real = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: calls.append(fd) or real(fd))
    build_index(settings, embedder=FakeEmbedder())
    monkeypatch.setattr(os, "fsync", real)
    return len(calls)


def _add_document(settings) -> None:
    (settings.seeds_dir / "mill.txt").write_text(
        "The old water mill on the Brook grinds 300 kilograms of flour every week. "
        "It was restored in 1994 by volunteers from the village.\n")


def test_a_full_disk_at_any_point_of_a_rebuild_keeps_the_old_index(corpus, tmp_path, monkeypatch):
    """The disk fills up at each fsync of a rebuild in turn (each is a point where written data
    must reach the disk): every time the old index stays live, nothing half-written is left, and
    the next rebuild works."""
    real = os.fsync
    base = Settings(seeds_dir=corpus, index_dir=tmp_path / "index", models_dir=tmp_path / "no-models",
                    chunk_tokens=40, chunk_overlap_tokens=8, top_k=3, candidates=10)
    build_index(base, embedder=FakeEmbedder())
    _add_document(base)
    total = _count_fsyncs(base.with_(index_dir=_copy_index(base.index_dir, tmp_path / "count")), monkeypatch)
    assert total >= 5
    outcomes = []
    for fail_at in range(1, total + 1):
        settings = base.with_(index_dir=_copy_index(base.index_dir, tmp_path / f"fail-{fail_at}"))
        before = _index_state(settings.index_dir)
        calls = []

        def full_disk(fd):
            calls.append(fd)
            if len(calls) == fail_at:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            return real(fd)

        monkeypatch.setattr(os, "fsync", full_disk)
        try:
            with pytest.raises(IndexWriteError) as err:
                build_index(settings, embedder=FakeEmbedder())
        finally:
            monkeypatch.setattr(os, "fsync", real)
        msg = one_line(err.value)
        assert msg.startswith("the disk is full") and "previous index is still in use" in msg, msg
        assert "`rag index`" in msg
        live, names = _index_state(settings.index_dir)
        if live == before[0]:
            assert names == before[1], fail_at             # nothing half-written is left behind
            outcomes.append("old")
        else:                                              # failed after the switch: the new version is whole
            assert fail_at == total and not [n for n in names if n.endswith(".tmp")]
            outcomes.append("new")
        load(settings.index_dir)                           # CURRENT names a complete, loadable version
        assert "1871" in fake_engine(settings).answer(QUESTION).answer
        # Space is back: the next rebuild works and has the new document.
        build_index(settings, embedder=FakeEmbedder())
        assert current_version(settings.index_dir) not in (None, before[0]) or live != before[0]
        a = fake_engine(settings).answer("How much flour does the old water mill grind every week?")
        assert "300" in a.answer, (fail_at, a.answer)
    assert outcomes.count("old") >= total - 1


def _copy_index(src: Path, dest: Path) -> Path:
    shutil.copytree(src, dest)
    return dest


def test_a_full_disk_reported_by_faiss_is_also_a_clear_error(settings, monkeypatch):
    build_index(settings, embedder=FakeEmbedder())
    _add_document(settings)
    before = _index_state(settings.index_dir)

    def no_space(self, path):
        Path(path).write_bytes(b"\0" * 10)        # a partial file, as a failed write leaves it
        raise RuntimeError(f"Error in faiss::FileIOWriter: fwrite {path} failed: No space left on device")

    monkeypatch.setattr(store_mod.FaissStore, "save", no_space)
    with pytest.raises(IndexWriteError, match="^the disk is full"):
        build_index(settings, embedder=FakeEmbedder())
    assert _index_state(settings.index_dir) == before


def test_other_write_errors_are_one_line_too(settings, monkeypatch):
    build_index(settings, embedder=FakeEmbedder())
    _add_document(settings)
    before = _index_state(settings.index_dir)

    def denied(path, data):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))

    monkeypatch.setattr(rag.index_versions, "_write_durable", denied)
    with pytest.raises(IndexWriteError) as err:
        build_index(settings, embedder=FakeEmbedder())
    assert "Permission denied" in one_line(err.value)
    assert _index_state(settings.index_dir) == before


# --------------------------------------------------------------------------- killed while answering


@pytest.mark.integration
def test_a_process_killed_while_answering_leaves_index_and_model_intact(tmp_path):
    index_dir = tmp_path / "index"
    build_index(Settings.from_env(seeds_dir=SEEDS, index_dir=index_dir))
    version = current_version(index_dir)
    before = sorted(p.name for p in index_dir.rglob("*"))
    spec = models.KNOWN_MODELS["qwen2.5-coder-0.5b"]
    model = REPO_ROOT / "models" / spec.filename
    model_stat = model.stat()
    cmd = [sys.executable, "-m", "rag.cli", "ask", "--seeds", str(SEEDS), "--index", str(index_dir)]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([*cmd, "Which derivative products of rare earths does the framework name?"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=REPO_ROOT, env=env)
    try:
        first = proc.stdout.read(1)            # the draft's first character: the model is generating
        assert first, proc.stderr.read().decode(errors="replace")[-2000:]
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(timeout=30) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        proc.stderr.close()
    assert current_version(index_dir) == version
    # The question's search may have saved the version's keyword index (atomically, beside it): any
    # other change, or a half-written keyword index, would be damage.
    after = [p for p in index_dir.rglob("*") if KEYWORD_DIR not in p.relative_to(index_dir).parts[1:2]]
    assert sorted(p.name for p in after) == [n for n in before]
    assert not list(index_dir.rglob(f".{KEYWORD_DIR}-*"))
    load(index_dir)                                     # every checksum still matches
    assert model.stat().st_size == model_stat.st_size and model.stat().st_mtime_ns == model_stat.st_mtime_ns
    models.verify(model, spec)
    done = subprocess.run([*cmd, "--json", "What floor price per kilogram did the Department of War set for NdPr?"],
                          capture_output=True, text=True, timeout=300, cwd=REPO_ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
    answer = json.loads(done.stdout)
    assert "110" in answer["answer"] and answer["index_version"] == version
    for c in answer["citations"]:
        assert read_text(SEEDS / c["source"])[c["start"]:c["end"]] == c["quote"]
