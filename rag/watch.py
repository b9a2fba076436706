"""Keep the index up to date with the corpus folder: rebuild when files are added, changed or
removed (the ``watchdog`` library reports them). Changes are gathered until the folder has been
quiet for ``debounce_s`` seconds, so saving a batch of files rebuilds once; one rebuild runs at
a time, and changes made while it runs start another when it ends. A question asked meanwhile is
answered from the live index and picks up the new one on its next question, as after `rag index`.
"""
from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Callable

from .config import Settings
from .errors import RagError

log = logging.getLogger(__name__)
DEBOUNCE_S = 2.0


class Watcher:
    """Watches ``settings.seeds_dir``; ``start()`` builds once and then after every change,
    ``stop()`` ends it. ``on_report(report)`` / ``on_error(exc)`` hear about each rebuild."""

    def __init__(self, settings: Settings, *, debounce_s: float = DEBOUNCE_S, build: Callable | None = None,
                 on_report: Callable | None = None, on_error: Callable[[Exception], None] | None = None):
        if debounce_s < 0:
            raise ValueError("debounce_s must be at least 0")
        from .pipeline import build_index

        self.settings = settings
        self.debounce_s = debounce_s
        self.build = build or (lambda: build_index(settings))
        self.on_report = on_report or (lambda report: None)
        self.on_error = on_error or (lambda exc: log.warning("rebuild failed: %s", exc))
        self.rebuilds = 0
        self._changed_at: float | None = None
        self._wake = threading.Condition()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._observer = None

    def start(self, *, build_first: bool = True) -> "Watcher":
        from watchdog.observers import Observer

        seeds = Path(self.settings.seeds_dir)
        if not seeds.is_dir():
            from .errors import CorpusError
            raise CorpusError(f"corpus folder {seeds} does not exist; create it and add documents")
        self._observer = Observer()
        self._observer.schedule(_Handler(self, Path(self.settings.index_dir)), str(seeds), recursive=True)
        self._observer.start()
        if build_first:
            self.changed()
            with self._wake:
                self._changed_at = 0.0          # no need to wait for quiet: build now
        self._thread = threading.Thread(target=self._run, name="rag-watch", daemon=True)
        self._thread.start()
        return self

    def changed(self) -> None:
        """Note a change in the corpus (called by the file watcher)."""
        with self._wake:
            self._changed_at = time.monotonic()
            self._wake.notify_all()

    def stop(self) -> None:
        with self._wake:
            self._stopping = True
            self._wake.notify_all()
        if self._observer is not None:
            self._observer.stop()
            self._observer.join(timeout=10)
        if self._thread is not None:
            self._thread.join(timeout=600)

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._stopping and (self._changed_at is None
                                              or time.monotonic() - self._changed_at < self.debounce_s):
                    wait = None if self._changed_at is None else self.debounce_s - (time.monotonic() - self._changed_at)
                    self._wake.wait(timeout=wait)
                if self._stopping:
                    return
                self._changed_at = None
            try:
                report = self.build()
            except RagError as exc:
                self.on_error(exc)
            except Exception as exc:  # noqa: BLE001 - a watcher that dies silently is worse
                log.exception("rebuild failed")
                self.on_error(exc)
            else:
                self.rebuilds += 1
                self.on_report(report)


class _Handler:
    """Turns file-system events under the corpus into ``Watcher.changed`` (hidden files and the
    index folder, when it lies inside the corpus, are not documents)."""

    def __init__(self, watcher: Watcher, index_dir: Path):
        self.watcher = watcher
        self.index_dir = index_dir.resolve()

    def dispatch(self, event) -> None:
        if event.event_type not in ("created", "modified", "deleted", "moved", "closed"):
            return
        if event.is_directory and event.event_type == "modified":   # its entries' own events follow
            return
        paths = [event.src_path, getattr(event, "dest_path", "") or ""]
        if any(p and self._relevant(Path(p)) for p in paths):
            self.watcher.changed()

    def _relevant(self, path: Path) -> bool:
        try:
            path = path.resolve()
        except OSError:
            return True
        if path == self.index_dir or self.index_dir in path.parents:
            return False
        return not any(part.startswith(".") for part in path.parts[-2:])
