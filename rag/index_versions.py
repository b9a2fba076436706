"""Writing index versions safely: the rebuild lock, durable writes, the atomic switch of CURRENT
to a new version, and removing what an unfinished build left and the versions no longer needed.
"""
from __future__ import annotations

import errno
import fcntl
import json
import os
import shutil
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from .errors import IndexCorruptError, IndexLockedError, IndexWriteError
from .index_format import POINTER, SPOOL, current_version
from .store import StoreConfig, drop_version_store

KEEP_OLD_VERSIONS = 1


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_durable(path: Path, data: bytes) -> None:
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def _disk_full(exc: BaseException) -> bool:
    if isinstance(exc, OSError):
        return exc.errno in (errno.ENOSPC, errno.EDQUOT)
    return "No space left on device" in str(exc)    # FAISS reports write errors as RuntimeError


def _write_error(index_dir: Path, exc: BaseException) -> IndexWriteError:
    keep = "the previous index is still in use"
    if _disk_full(exc):
        return IndexWriteError(f"the disk is full: the new index version could not be written in {index_dir}; "
                               f"{keep}; free some space and run `rag index` again")
    why = getattr(exc, "strerror", None) or " ".join(str(exc).split()) or type(exc).__name__
    return IndexWriteError(f"the new index version could not be written in {index_dir} ({why}); {keep}; "
                           "fix the cause and run `rag index` again")


@contextmanager
def build_lock(index_dir: Path) -> Iterator[None]:
    """An exclusive flock; the kernel drops it when the holder dies, so no lock goes stale.

    The file ``.lock`` stays (removing it would race with the next holder); it names the pid of
    the process holding it, and nothing once released."""
    index_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(index_dir / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "another process"
            raise IndexLockedError(f"another rebuild of {index_dir} is running (pid {holder}); try again when it ends") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        try:
            yield
        finally:
            os.ftruncate(fd, 0)     # a released lock names no process
    finally:
        os.close(fd)


def publish(index_dir: Path, tmp: Path, version: str, manifest: dict) -> None:
    """Make the finished folder ``tmp`` the live ``version``: its manifest is written last, the
    folder renamed, then CURRENT replaced, each step fsynced."""
    _write_durable(tmp / "manifest.json", json.dumps(manifest, indent=1, ensure_ascii=False).encode())
    _fsync_dir(tmp)
    final = index_dir / version
    os.replace(tmp, final)
    _fsync_dir(index_dir)
    pointer_tmp = index_dir / (POINTER + ".tmp")
    _write_durable(pointer_tmp, json.dumps({"version": version}).encode())
    os.replace(pointer_tmp, index_dir / POINTER)
    _fsync_dir(index_dir)


def discard_unfinished(index_dir: Path, version: str | None, store: StoreConfig) -> None:
    """After a failed write: remove what it left, unless the new version already went live.
    The staging file of embedded vectors stays, so the next build does not embed them again."""
    for name in (POINTER + ".tmp", SPOOL):
        (index_dir / name).unlink(missing_ok=True)
    if version is None:
        return
    try:
        live = current_version(index_dir)
    except IndexCorruptError:
        live = None
    for folder in (index_dir / (version + ".tmp"), index_dir / version):
        if folder.name != live and folder.exists():
            try:
                drop_version_store(folder, store)
            except Exception:  # noqa: BLE001 - cleaning up after a failure must not hide it
                pass
            shutil.rmtree(folder, ignore_errors=True)


def collect_garbage(index_dir: Path, store: StoreConfig) -> None:
    """Delete unfinished builds and all but the newest old versions (readers may still use them)."""
    try:
        live = current_version(index_dir)
    except IndexCorruptError:
        live = None
    versions = []
    for p in index_dir.iterdir():
        if p.is_dir() and p.name.startswith("v-"):
            if p.name.endswith(".tmp"):
                drop_version_store(p, store)
                shutil.rmtree(p, ignore_errors=True)
            elif p.name != live:
                versions.append(p)
        elif p.name in (SPOOL, POINTER + ".tmp"):     # left by a build that was killed
            p.unlink(missing_ok=True)
    # Oldest first. Names sort by time only to the second, so order by when each was written.
    versions.sort(key=lambda p: (p.stat().st_mtime_ns, p.name))
    if live is None:    # without a live version, no old one is known to be unneeded
        versions = []
    for p in versions[:-KEEP_OLD_VERSIONS] if KEEP_OLD_VERSIONS else versions:
        drop_version_store(p, store)
        shutil.rmtree(p, ignore_errors=True)
