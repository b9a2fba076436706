"""A warm `rag ask`: it uses a running `rag serve` for the same index, and answers in-process otherwise."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

import rag.cli
import rag.pipeline
from rag import serve_record
from rag.cli import main
from rag.config import Settings
from rag.pipeline import Engine
from rag.server import Background, create_app

from conftest import FakeEmbedder, FakeGenerator, echo_passage, free_port

ROOT = Path(__file__).resolve().parents[1]
QUESTION = "When was the Harbour Point lighthouse built?"


@pytest.fixture
def settings(corpus, tmp_path):
    return Settings.from_env(seeds_dir=corpus, index_dir=tmp_path / "index", models_dir=tmp_path / "no-models",
                             chunk_tokens=40, chunk_overlap_tokens=8)


class Cli:
    """`rag` for fixed settings; ``local`` records every in-process engine it made."""

    def __init__(self):
        self.local: list[Settings] = []

    def engine(self, s: Settings) -> Engine:
        self.local.append(s)
        return Engine(s, embedder=FakeEmbedder(), generator=FakeGenerator(echo_passage(1)))

    def __call__(self, argv: list[str]) -> int:
        return main(argv)


@pytest.fixture
def cli(settings, monkeypatch):
    c = Cli()
    monkeypatch.setattr(rag.cli, "_settings", lambda args: settings)
    monkeypatch.setattr(rag.pipeline, "get_engine", c.engine)
    monkeypatch.delenv("RAG_API_TOKEN", raising=False)
    return c


def serving(settings, **kw):
    engine = Engine(settings, embedder=FakeEmbedder(), generator=FakeGenerator(echo_passage(1)))
    return Background(create_app(settings, engine=engine, **kw), port=free_port())


def test_ask_uses_a_running_server_for_the_same_index(settings, cli, capsys):
    with serving(settings) as bg, serve_record.recorded(settings, "127.0.0.1", int(bg.url.rsplit(":", 1)[1]),
                                                        token_required=False):
        assert cli(["ask", "--json", QUESTION]) == 0
        out, err = capsys.readouterr()
        assert err.strip() == f"rag: answered by the running `rag serve` at {bg.url}"
        answer = json.loads(out)
        assert "1871" in answer["answer"] and answer["citations"][0]["source"] == "lighthouse.md"
        assert cli(["ask", QUESTION, "--only", "notes/*"]) == 0
        out, err = capsys.readouterr()
        assert "[1] notes/bakery.txt" in out and "answered by the running" in err
        assert cli(["ask", QUESTION, "--only", "nowhere/*"]) == 2
        assert capsys.readouterr().err.strip().startswith("rag: error: the scope 'nowhere/*' matches none")
        assert cli.local == []
    assert not (settings.index_dir / serve_record.RECORD).exists()      # removed when the server stops

    assert cli(["ask", QUESTION]) == 0                                  # no server: in-process
    out, err = capsys.readouterr()
    assert "1871" in out and "answered by" not in err and len(cli.local) == 1


@pytest.mark.parametrize("change", ["other model", "dead pid", "token"])
def test_ask_answers_in_process_when_the_server_does_not_fit(settings, cli, capsys, change):
    served = settings.with_(model="qwen2.5-coder-1.5b") if change == "other model" else settings
    with serving(served, token="s3cret" if change == "token" else None) as bg:
        port = int(bg.url.rsplit(":", 1)[1])
        with serve_record.recorded(served, "127.0.0.1", port, token_required=change == "token"):
            if change == "dead pid":
                path = settings.index_dir / serve_record.RECORD
                record = json.loads(path.read_text())
                path.write_text(json.dumps({**record, "pid": 2 ** 22 + 12345}))
            assert cli(["ask", QUESTION]) == 0
            assert "answered by" not in capsys.readouterr().err and len(cli.local) == 1


def test_ask_uses_a_token_from_the_environment(settings, cli, capsys, monkeypatch):
    with serving(settings, token="s3cret") as bg:
        with serve_record.recorded(settings, "127.0.0.1", int(bg.url.rsplit(":", 1)[1]), token_required=True):
            monkeypatch.setenv("RAG_API_TOKEN", "s3cret")
            assert cli(["ask", QUESTION]) == 0
            assert "answered by the running" in capsys.readouterr().err and cli.local == []


def test_rag_serve_records_itself_for_rag_ask(corpus, tmp_path, capsys, monkeypatch):
    """The real `rag serve` command (with the fake models) and `rag ask` in another process."""
    index = tmp_path / "index"
    port = free_port()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    env.pop("RAG_API_TOKEN", None)
    fakes = [sys.executable, str(ROOT / "tests" / "run_with_fakes.py")]
    proc = subprocess.Popen([*fakes, "serve", "--port", str(port), "--seeds", str(corpus), "--index", str(index)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while not (index / serve_record.RECORD).exists():
            assert proc.poll() is None and time.monotonic() < deadline, "rag serve did not start"
            time.sleep(0.1)
        record = json.loads((index / serve_record.RECORD).read_text())
        assert record["url"] == f"http://127.0.0.1:{port}" and record["pid"] == proc.pid
        assert httpx.get(record["url"] + "/health", timeout=5).status_code == 200
        # `rag ask` without the fakes: it can only answer through the server.
        r = subprocess.run([sys.executable, "-m", "rag.cli", "ask", "--seeds", str(corpus), "--index", str(index),
                            QUESTION], env={**env, "RAG_MODELS_DIR": str(tmp_path / "no-models")},
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr
        assert "answered by the running `rag serve`" in r.stderr and "1871" in r.stdout
    finally:
        proc.terminate()
        proc.wait(30)
    assert not (index / serve_record.RECORD).exists()
