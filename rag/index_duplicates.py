"""Near-duplicate documents: pairs of indexed documents that tell much the same thing, found by
comparing a sample of each document's passage vectors with all the others.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from .index_staging import _Locations

# Near-duplicate documents: a passage is shared when a passage of the other document is at least
# this similar (cosine); two documents are reported when this share of their passages is shared.
NEAR_DUPLICATE_COSINE = 0.75
NEAR_DUPLICATE_SHARE = 0.5
NEAR_DUPLICATE_SAMPLE = 64        # passages compared per document, at most
NEAR_DUPLICATE_BUDGET = 2e8       # at most this many passage comparisons per build
NEAR_DUPLICATES_KEPT = 500        # pairs kept in the manifest (most similar first)


def near_duplicates(locations: "_Locations | list[list[tuple[str, int, int]]]", vectors: np.ndarray,
                    same_content: set[frozenset[str]] = frozenset()) -> list[tuple[str, str, float]] | None:
    """Pairs of documents that tell much the same thing: (a, b, share of their passages that have a
    close passage, cosine >= NEAR_DUPLICATE_COSINE, in the other). Identical files are left out.

    Cheap: at most NEAR_DUPLICATE_SAMPLE passages per document are compared with every passage,
    fewer when that would exceed NEAR_DUPLICATE_BUDGET comparisons; None when even 4 per document
    would (the check is then not made)."""
    n = len(locations)
    sources = sorted({loc[0] for row in range(n) for loc in locations[row]})
    if len(sources) < 2 or n == 0:
        return []
    doc_index = {s: i for i, s in enumerate(sources)}
    rows_of: list[list[int]] = [[] for _ in sources]
    row_doc = np.empty(n, dtype=np.int64)
    shared_rows: dict[int, set[int]] = {}    # rows (identical passages) found in several documents
    for row in range(n):
        docs = {doc_index[loc[0]] for loc in locations[row]}
        for d in docs:
            rows_of[d].append(row)
        row_doc[row] = min(docs)
        if len(docs) > 1:
            shared_rows[row] = docs
    per_doc = NEAR_DUPLICATE_SAMPLE
    while per_doc >= 4 and sum(min(len(r), per_doc) for r in rows_of) * n > NEAR_DUPLICATE_BUDGET:
        per_doc //= 2
    if per_doc < 4:
        return None
    queries: list[tuple[int, int]] = []     # (document, row)
    for d, rows in enumerate(rows_of):
        take = rows if len(rows) <= per_doc else [rows[i * len(rows) // per_doc] for i in range(per_doc)]
        queries += [(d, r) for r in take]
    asked = np.bincount([d for d, _ in queries], minlength=len(sources))
    hits: dict[tuple[int, int], int] = {}
    vectors = np.asarray(vectors, dtype=np.float32)
    step = max(1, 4_000_000 // n)
    for i in range(0, len(queries), step):
        part = queries[i:i + step]
        sims = vectors[[r for _, r in part]] @ vectors.T
        for (d, _), sim in zip(part, sims):
            close = np.flatnonzero(sim >= NEAR_DUPLICATE_COSINE)
            others = set(np.unique(row_doc[close]).tolist())
            for r in close:
                if int(r) in shared_rows:
                    others |= shared_rows[int(r)]
            others.discard(d)
            for o in others:
                hits[(d, o)] = hits.get((d, o), 0) + 1
    out = []
    for a, b in {tuple(sorted(k)) for k in hits}:
        if frozenset((sources[a], sources[b])) in same_content:
            continue
        share = (hits.get((a, b), 0) + hits.get((b, a), 0)) / (asked[a] + asked[b])
        if share >= NEAR_DUPLICATE_SHARE:
            out.append((sources[a], sources[b], round(float(share), 3)))
    out.sort(key=lambda t: (-t[2], t[0], t[1]))
    return out[:NEAR_DUPLICATES_KEPT]
