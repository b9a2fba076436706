"""`rag ui` as a user starts it: the address it binds by default, a login from RAG_AUTH, the upload
limit from RAG_MAX_UPLOAD_MB. The real command and the real server run; only the engine is scripted."""
from __future__ import annotations

import socket
from types import SimpleNamespace

import httpx
import psutil
import pytest

import ui.app
from rag.answer import Answer
from rag.cli import main
from rag.config import Settings
from ui.app import ChatHandlers

from conftest import free_port
from test_ui import QUESTION, DOC, ScriptedEngine, citation, upload


@pytest.fixture
def rag_ui(tmp_path, monkeypatch):
    """Run `rag ui ARGS…` with the real command line and server, in the background; (url, port) back."""
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    (seeds / "lighthouse.txt").write_text(DOC, encoding="utf-8")
    final = Answer(QUESTION, "It is seen from 22 miles [1].", False, [citation()], {})
    started = []
    real_serve = ui.app.serve

    def in_background(settings, **kw):
        demo = real_serve(settings, **kw, prevent_thread_lock=True, engine=ScriptedEngine(final))
        started.append(demo)
        return demo

    monkeypatch.setattr(ui.app, "serve", in_background)

    def run(*args: str) -> tuple[int, str, int]:
        port = free_port()
        code = main(["ui", "--seeds", str(seeds), "--index", str(tmp_path / "index"), "--port", str(port), *args])
        return code, f"http://127.0.0.1:{port}", port

    yield run
    for demo in started:
        demo.close()


def listening(port: int) -> set[str]:
    return {c.laddr.ip for c in psutil.Process().net_connections(kind="inet")
            if c.status == psutil.CONN_LISTEN and c.laddr.port == port}


def reachable(host: str, port: int) -> bool:
    try:
        socket.create_connection((host, port), timeout=2).close()
        return True
    except OSError:
        return False


def test_rag_ui_binds_only_the_loopback_address_by_default(rag_ui):
    code, url, port = rag_ui()
    assert code == 0
    assert listening(port) == {"127.0.0.1"}
    assert httpx.get(url + "/config", timeout=10).status_code == 200     # no login was asked for
    # 127.0.0.2 is this machine too, but not the address bound: nothing answers there
    assert reachable("127.0.0.1", port) and not reachable("127.0.0.2", port)


def test_rag_ui_on_all_addresses_is_reachable_on_them_when_asked(rag_ui, monkeypatch):
    monkeypatch.setenv("RAG_AUTH", "ann:s3cret")
    code, _, port = rag_ui("--host", "0.0.0.0")
    assert code == 0
    assert listening(port) == {"0.0.0.0"} and reachable("127.0.0.2", port)


def test_rag_auth_requires_that_login(rag_ui, monkeypatch):
    monkeypatch.setenv("RAG_AUTH", "ann:s3cret")
    code, url, _ = rag_ui()
    assert code == 0
    with httpx.Client(timeout=10) as http:
        assert http.get(url + "/config").status_code == 401
        assert http.post(url + "/login", data={"username": "ann", "password": "wrong"}).status_code == 400
        assert http.post(url + "/login", data={"username": "ann", "password": "s3cret"}).json() == {"success": True}
        assert http.get(url + "/config").status_code == 200


def test_a_malformed_rag_auth_is_a_one_line_error(rag_ui, monkeypatch, capsys):
    monkeypatch.setenv("RAG_AUTH", "no-password-here")
    code, url, port = rag_ui()
    assert code == 2 and capsys.readouterr().err == "rag: error: --auth must look like USER:PASSWORD\n"
    assert not listening(port)


def test_rag_max_upload_mb_limits_uploads_to_the_server_and_to_the_corpus(rag_ui, monkeypatch, tmp_path):
    monkeypatch.setenv("RAG_MAX_UPLOAD_MB", "0.01")          # 10,485 bytes
    code, url, _ = rag_ui()
    assert code == 0
    small, big = b"A note about ships. " * 400, b"A note about ships. " * 600     # 8,000 and 12,000 bytes
    with httpx.Client(timeout=10) as http:
        refused = http.post(url + "/gradio_api/upload", files={"files": ("big.txt", big, "text/plain")})
        taken = http.post(url + "/gradio_api/upload", files={"files": ("small.txt", small, "text/plain")})
    assert refused.status_code == 413 and taken.status_code == 200
    # and the window's own check, which also guards the corpus folder, uses the same limit
    seeds = tmp_path / "seeds"
    handlers = ChatHandlers(Settings(seeds_dir=seeds, index_dir=tmp_path / "index"), engine=ScriptedEngine())
    handlers._rebuild = lambda progress: "1 added"
    for name, data in (("big.txt", big), ("small.txt", small)):
        given = SimpleNamespace(name=str(upload(tmp_path, name, data)), orig_name=name)
        notice, *_ = handlers.add_documents([given], progress=lambda *a, **k: None)
    assert (seeds / "small.txt").read_bytes() == small
    assert not (seeds / "big.txt").exists()
    notice, *_ = handlers.add_documents([SimpleNamespace(name=str(upload(tmp_path, "big.txt", big)),
                                                         orig_name="big.txt")], progress=lambda *a, **k: None)
    assert "ig.txt: too large (0.0114 MB; the limit is 0.01 MB)" in notice


@pytest.mark.parametrize("value", ["twenty", "0", "-5", "inf"])
def test_a_bad_rag_max_upload_mb_is_a_one_line_error(rag_ui, monkeypatch, capsys, value):
    monkeypatch.setenv("RAG_MAX_UPLOAD_MB", value)
    code, _, port = rag_ui()
    assert code == 2
    assert capsys.readouterr().err == (f"rag: error: RAG_MAX_UPLOAD_MB must be a positive number of megabytes, "
                                       f"not {value!r}\n")
    assert not listening(port)
