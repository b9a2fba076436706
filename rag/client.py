"""A warm `rag ask`: send the question to a running `rag serve` for the same index.

The server has the models loaded, so the answer comes in the time of a warm question instead of
the seconds loading takes. ``ask`` returns None whenever no such server can be used (none runs, it
serves another corpus, index or model, it needs a token we do not have, it stopped meanwhile), and
the caller answers in-process as usual. A server's one-line error (a scope that names nothing, a
full queue) is raised as the same kind of error the library raises.
"""
from __future__ import annotations

import os

from . import serve_record
from .answer import Answer, Citation
from .config import Settings
from .errors import BusyError, ConfigError, RagError

ASK_TIMEOUT_S = 600.0


def from_dict(d: dict) -> Answer:
    """The Answer of ``Answer.to_dict()`` (or of the server's JSON)."""
    cites = [Citation(**{k: v for k, v in c.items() if k in Citation.__dataclass_fields__}) for c in d["citations"]]
    return Answer(d["question"], d["answer"], d["abstained"], cites, d.get("timings") or {},
                  list(d.get("warnings") or []), d.get("model", ""), d.get("index_version", ""),
                  d.get("draft", ""), d.get("retrieval_query", ""))


def ask(settings: Settings, question: str, sources=None) -> tuple[str, Answer] | None:
    """(server URL, Answer) from a running `rag serve` that answers as this process would, or None."""
    token = os.environ.get("RAG_API_TOKEN") or None
    url = serve_record.find(settings, token)
    if url is None:
        return None
    import httpx

    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        r = httpx.post(f"{url}/v1/ask", json={"question": question, "sources": sources}, headers=headers,
                       timeout=httpx.Timeout(ASK_TIMEOUT_S, connect=2.0))
    except httpx.HTTPError:
        return None                     # it stopped meanwhile: answer in-process
    try:
        body = r.json()
    except ValueError:
        return None
    if r.status_code == 200:
        return url, from_dict(body)
    message = (body.get("error") or {}).get("message") if isinstance(body, dict) else None
    if not message or r.status_code in (401, 404, 500):
        return None
    if r.status_code == 400:
        raise ConfigError(message)
    if r.status_code in (429, 503):
        raise BusyError(message)
    raise RagError(message)
