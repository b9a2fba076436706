"""How `rag ask` finds a running `rag serve` for the same index: a small file in the index folder.

``rag serve`` writes ``<index>/serve.json`` (its loopback URL, pid, and what it serves; never the
token) while it runs and removes it when it stops. ``find`` reads it and asks the server's /health
whether it is alive and serves the same corpus, index and model, in well under a second.
"""
from __future__ import annotations

import contextlib
import json
import os
import threading
from pathlib import Path

from .config import Settings

RECORD = "serve.json"
HEALTH_TIMEOUT_S = 0.5


def identity(settings: Settings) -> dict:
    """What makes two processes answer alike: the corpus, the index and the model settings."""
    return {"seeds_dir": str(Path(settings.seeds_dir).resolve()), "index_dir": str(Path(settings.index_dir).resolve()),
            "model": settings.model, "llm_url": settings.llm_url, "llm_model": settings.llm_model,
            "top_k": settings.top_k, "vector_store": settings.vector_store}


def local_url(host: str, port: int) -> str:
    """The URL this machine reaches the server at (a server on every address is on 127.0.0.1 too)."""
    if host in ("0.0.0.0", "", "::", "[::]", "localhost"):
        host = "127.0.0.1"
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"http://{host}:{port}"


@contextlib.contextmanager
def recorded(settings: Settings, host: str, port: int, *, token_required: bool, listening=None):
    """Keep ``<index>/serve.json`` while the block runs; with ``listening`` (a callable), write it
    only once that says the server accepts connections, so `rag ask` never finds a server that
    cannot answer yet."""
    path = Path(settings.index_dir) / RECORD
    record = {"url": local_url(host, port), "pid": os.getpid(), "token_required": token_required,
              **identity(settings)}
    done = threading.Event()
    lock = threading.Lock()
    written: list[Path] = []

    def write() -> None:
        with lock:
            if done.is_set():
                return
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                tmp = path.with_suffix(".tmp")
                tmp.write_text(json.dumps(record))
                os.replace(tmp, path)
                written.append(path)
            except OSError:
                pass           # a read-only index folder: `rag ask` simply will not find this server

    def write_when_listening() -> None:
        while not done.is_set():
            if listening():
                write()
                return
            done.wait(0.05)

    if listening is None:
        write()
    else:
        threading.Thread(target=write_when_listening, name="rag-serve-record", daemon=True).start()
    try:
        yield record
    finally:
        with lock:
            done.set()
            if written:
                with contextlib.suppress(OSError, ValueError):
                    if json.loads(path.read_text()).get("pid") == os.getpid():
                        path.unlink()


def _alive(pid) -> bool:
    try:
        os.kill(int(pid), 0)
    except (OSError, ValueError, TypeError):
        return False
    return True


def find(settings: Settings, token: str | None = None) -> str | None:
    """The URL of a running `rag serve` that answers exactly as this process would, or None."""
    try:
        record = json.loads((Path(settings.index_dir) / RECORD).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or not _alive(record.get("pid")):
        return None
    if record.get("token_required") and not token:
        return None
    import httpx

    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        r = httpx.get(f"{record['url']}/health", headers=headers, timeout=HEALTH_TIMEOUT_S)
        health = r.json() if r.status_code == 200 else None
    except (httpx.HTTPError, ValueError, KeyError, TypeError):
        return None
    if not isinstance(health, dict):
        return None
    want = identity(settings)
    if any(health.get(k) != v for k, v in want.items()):
        return None
    return record["url"]
