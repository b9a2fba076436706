"""Offline question answering over your own documents, with checked, verbatim citations.

    import rag
    a = rag.answer("What price floor was set for NdPr?")
    print(a.answer, a.citations[0].quote)
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterator

from .answer import Answer, Citation, Sources
from .config import Settings
from .documents import read_source, read_text
from .errors import (BusyError, ConfigError, CorpusError, IndexCorruptError, IndexLockedError,
                     IndexMismatchError, IndexMissingError, IndexWriteError, ModelError, RagError,
                     VectorStoreError)
from .index import BuildReport
from .scope import ScopeError

__all__ = [
    "answer", "stream_answer", "search", "build_index", "read_text", "read_source", "Settings", "Answer", "Citation", "Sources",
    "BuildReport", "RagError", "ConfigError", "CorpusError", "ModelError", "IndexMissingError",
    "IndexCorruptError", "IndexMismatchError", "IndexLockedError", "IndexWriteError", "BusyError",
    "VectorStoreError", "ScopeError",
]
__version__ = "0.1.0"


def _settings(seeds_dir, index_dir, model, **extra) -> Settings:
    return Settings.from_env(seeds_dir=seeds_dir, index_dir=index_dir, model=model, **extra)


def stream_answer(question: str, *, history=None, sources=None, seeds_dir: str | Path | None = None,
                  index_dir: str | Path | None = None, model: str | None = None, **settings) -> Iterator[object]:
    """Yield a ``Sources`` event, then the answer's text pieces (``str``) as the model writes them,
    then the final, verified ``Answer``. ``history``: the earlier turns of the conversation (their
    ``Answer`` objects, ``to_dict()`` results, or just the questions); a follow-up question is
    searched for with the conversation's key terms. ``sources``: answer only from these documents,
    a list of corpus-relative paths, folders or glob patterns (``["reports/*.pdf"]``)."""
    from .pipeline import get_engine

    return get_engine(_settings(seeds_dir, index_dir, model, **settings)).stream(question, history, sources)


def answer(question: str, *, history=None, sources=None, seeds_dir: str | Path | None = None,
           index_dir: str | Path | None = None, model: str | None = None, **settings) -> Answer:
    """Answer ``question`` from the documents; see ``Answer`` for the fields. ``history``: the
    conversation so far, and ``sources``: the documents to answer from, as for ``stream_answer``."""
    from .pipeline import get_engine

    return get_engine(_settings(seeds_dir, index_dir, model, **settings)).answer(question, history, sources)


def search(query: str, *, k: int | None = None, sources=None, seeds_dir: str | Path | None = None,
           index_dir: str | Path | None = None, **settings) -> list:
    """Retrieval only, no model: the ``k`` passages (default: the ``top_k`` setting) that best match
    ``query``, each with ``source``, ``start``, ``end``, ``page``, ``text`` (verbatim) and ``score``;
    ``sources`` scopes the search as for ``answer``."""
    from .pipeline import get_engine
    from .passages import search as _search

    return _search(get_engine(_settings(seeds_dir, index_dir, None, **settings)), query, k, sources)


def build_index(*, seeds_dir: str | Path | None = None, index_dir: str | Path | None = None,
                dry_run: bool = False, show_progress: bool = False, **settings) -> BuildReport:
    """Build or update the index for the corpus (the same work as ``rag index``)."""
    from .pipeline import build_index as _build

    return _build(_settings(seeds_dir, index_dir, None, **settings), dry_run=dry_run, show_progress=show_progress)
