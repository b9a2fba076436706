"""A bounded queue in front of the engine, for servers: one question answered at a time, at most
``QUEUE_SIZE`` waiting, and a caller who would make the queue longer is told at once to come back
(``QueueFull``, which servers turn into "busy, retry after N seconds") instead of hanging.

The chat window's Gradio queue has the same shape (``ui.app.QUEUE_SIZE`` waiting, one running).

    ticket = queue.enter()          # QueueFull when full; nothing to undo then
    try:
        ticket.wait()               # blocks until it is this caller's turn
        ...                         # use the engine
    finally:
        ticket.leave()
"""
from __future__ import annotations

import threading

from .errors import BusyError
from .generate import FairLock

QUEUE_SIZE = 16          # callers waiting at most (besides the one being answered)
RETRY_AFTER_S = 10       # what a refused caller is told to wait


class QueueFull(BusyError):
    """The queue is full; ``retry_after`` is the suggested wait in seconds."""

    def __init__(self, message: str, retry_after: int = RETRY_AFTER_S):
        super().__init__(message)
        self.retry_after = retry_after


class Ticket:
    def __init__(self, queue: "AdmissionQueue"):
        self._queue = queue
        self._turn = False
        self._left = False

    def wait(self, timeout: float | None = None) -> None:
        """Block until it is this caller's turn (in arrival order); BusyError after ``timeout`` s."""
        if not self._queue._turns.acquire(timeout=timeout):
            self.leave()
            raise BusyError(f"waited {timeout:g} s for a turn; try again in a moment")
        self._turn = True

    def leave(self) -> None:
        """Give up the place in the queue (or the turn). Safe to call twice."""
        if self._left:
            return
        self._left = True
        if self._turn:
            self._queue._turns.release()
        with self._queue._lock:
            self._queue._inside -= 1

    def __enter__(self) -> "Ticket":
        self.wait()
        return self

    def __exit__(self, *exc) -> None:
        self.leave()


class AdmissionQueue:
    """One running, up to ``size`` waiting."""

    def __init__(self, size: int = QUEUE_SIZE, retry_after: int = RETRY_AFTER_S):
        if size < 0:
            raise ValueError("the queue size cannot be negative")
        self.size = size
        self.retry_after = retry_after
        self._lock = threading.Lock()
        self._inside = 0               # running + waiting
        self._turns = FairLock()

    def enter(self) -> Ticket:
        with self._lock:
            if self._inside >= self.size + 1:
                raise QueueFull(f"busy: {self._inside - 1} question(s) are waiting already; "
                                f"try again in {self.retry_after} s", self.retry_after)
            self._inside += 1
        return Ticket(self)

    @property
    def waiting(self) -> int:
        with self._lock:
            return max(0, self._inside - 1)

    @property
    def inside(self) -> int:
        with self._lock:
            return self._inside
