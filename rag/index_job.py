"""Rebuilding the index in the background, for servers: one rebuild at a time, with its progress.

Questions keep being answered meanwhile: the new index version goes live atomically when the
rebuild finishes (see ``rag.index``), and the next question reads it.
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import asdict, dataclass

from .config import Settings
from .errors import RagError

log = logging.getLogger(__name__)


@dataclass
class JobStatus:
    state: str = "idle"          # idle, running, done, failed
    phase: str = ""              # what a running rebuild is doing
    done: int = 0                # passages embedded so far
    total: int = 0               # passages to embed
    started_at: float | None = None
    finished_at: float | None = None
    summary: str = ""            # the build report of a finished rebuild
    error: str = ""              # the one-line reason a rebuild failed

    def to_dict(self) -> dict:
        return asdict(self)


class IndexJob:
    def __init__(self, settings: Settings, engine=None):
        self.settings = settings
        self._engine = engine        # its embedder builds the index (the shared one when None)
        self._lock = threading.Lock()
        self._status = JobStatus()
        self._thread: threading.Thread | None = None

    def status(self) -> JobStatus:
        with self._lock:
            return JobStatus(**asdict(self._status))

    def start(self) -> bool:
        """Start a rebuild; False when one is running already (it will see every change made so far
        only if it has not read the corpus yet, so call again once it is done)."""
        with self._lock:
            if self._status.state == "running":
                return False
            self._status = JobStatus(state="running", phase="reading the documents", started_at=time.time())
            self._thread = threading.Thread(target=self._run, name="rag-index", daemon=True)
            self._thread.start()
            return True

    def wait(self, timeout: float | None = None) -> JobStatus:
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
        return self.status()

    def _progress(self, done: int, total: int) -> None:
        with self._lock:
            self._status.phase = "embedding passages"
            self._status.done, self._status.total = done, total

    def _run(self) -> None:
        try:
            from .pipeline import build_index

            embedder = self._engine.embedder if self._engine is not None else None
            report = build_index(self.settings, embedder=embedder, progress=self._progress)
            result = {"state": "done", "summary": report.summary()}
        except RagError as exc:
            result = {"state": "failed", "error": str(exc)}
        except Exception as exc:  # noqa: BLE001 - a server must report it, not die
            log.exception("index rebuild failed")
            result = {"state": "failed", "error": f"the rebuild failed unexpectedly ({type(exc).__name__}); "
                                                  "the details are in the server's log"}
        with self._lock:
            self._status.phase = ""
            self._status.finished_at = time.time()
            for k, v in result.items():
                setattr(self._status, k, v)
