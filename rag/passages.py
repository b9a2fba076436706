"""Retrieval only: the passages that best match a query, with their scores and where they are.

No model writes anything: this is what ``POST /v1/search`` and the MCP tool ``search_documents``
return. Every passage is an indexed chunk, quoted verbatim (``text`` equals the file's decoded
text ``[start:end]``).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

from .documents import page_of
from .errors import ConfigError

MAX_K = 50


@dataclass
class Passage:
    n: int
    source: str                   # corpus-relative path
    start: int
    end: int
    text: str
    score: float                  # fused rank score (higher is better)
    cosine: float | None          # similarity to the query, when the dense search found it
    chunk_id: str
    page: int | None = None
    also: list[dict] = field(default_factory=list)   # the same text in other files: source/start/end

    def to_dict(self) -> dict:
        """As JSON; without ``page`` and ``also`` when there is none."""
        return {k: v for k, v in asdict(self).items() if not (k in ("page", "also") and v in (None, []))}


def search(engine, query: str, k: int | None = None, sources=None) -> list[Passage]:
    """The ``k`` chunks that best match ``query`` (of the ``sources`` documents, when given)."""
    if not isinstance(query, str) or not query.strip():
        raise ConfigError("the query is empty; give some words to search for")
    k = engine.settings.top_k if k is None else k
    if not isinstance(k, int) or isinstance(k, bool) or not 1 <= k <= MAX_K:
        raise ConfigError(f"k must be a whole number from 1 to {MAX_K}")
    query = " ".join(query.split())
    retriever = engine.retriever()
    scope = retriever.scope(sources)
    snap = retriever.snapshot
    hits = retriever.search(query, k, scope=scope)
    out = []
    for n, hit in enumerate(hits, 1):
        first, *others = hit.chunk.locations
        out.append(Passage(n, first.source, first.start, first.end, hit.chunk.text, round(hit.score, 4),
                           None if hit.dense_score is None else round(hit.dense_score, 4), hit.chunk.id,
                           page_of(snap.document_pages(first.source), first.start),
                           [{"source": o.source, "start": o.start, "end": o.end} for o in others]))
    return out
