"""Benchmark of `rag serve`: the HTTP API against the library, and concurrent API clients.

One warm Engine answers in-process and behind the API (the real app on 127.0.0.1, the `openai`
client, streaming), question by question in turn, so both see the same machine:

* what the API adds: the wall time of a streamed API answer minus the server's own ``total_s``
  for that answer (HTTP, JSON, the queue), and the time to the first streamed content (the API
  streams only verified text, so that comes after verification: near the in-process total, not
  the in-process first draft token);
* ``clients`` clients × ``per_client`` questions at once: every reply must be right (the expected
  facts) and its own (its retrieval query is its question, its citations come with it).
"""
from __future__ import annotations

import threading
import time

from .admission import AdmissionQueue
from .chat_api import answer_part
from .config import Settings


def _median(values):
    values = sorted(v for v in values if v is not None)
    return values[len(values) // 2] if values else None


def _streamed(client, question: str) -> dict:
    t0 = time.monotonic()
    first = None
    text = ""
    last = None
    for chunk in client.chat.completions.create(model="rag", stream=True,
                                                messages=[{"role": "user", "content": question}]):
        piece = chunk.choices[0].delta.content if chunk.choices else None
        if piece:
            first = first if first is not None else time.monotonic() - t0
            text += piece
        last = chunk
    extra = (last.model_extra or {}) if last is not None else {}
    return {"wall_s": time.monotonic() - t0, "first_content_s": first, "content": text,
            "server_total_s": (extra.get("rag") or {}).get("timings", {}).get("total_s"),
            "retrieval_query": (extra.get("rag") or {}).get("retrieval_query", ""),
            "citations": extra.get("citations") or []}


def bench_api(settings: Settings, plan, questions, index_dir, res: dict, *, engine=None,
              clients: int = 8, per_client: int = 3, found=None) -> None:
    from openai import OpenAI

    from .bench_common import _found, _free_port
    from .pipeline import Engine, shared_embedder, shared_generator
    from .server import Background, create_app

    found = found or _found
    s = settings.with_(index_dir=index_dir, max_answer_tokens=plan.max_answer_tokens)
    if engine is None:
        engine = Engine(s, embedder=shared_embedder(s), generator=shared_generator(s))
    engine.warm_up()
    asked = questions[: plan.max_questions] if plan.max_questions else questions
    qs = [q for q in asked if q.answerable] or list(asked[:1])
    paired = qs[: 2 if plan.quick else 6]
    if plan.quick:
        clients, per_client = 2, 1
    queue = AdmissionQueue(size=clients * per_client)
    with Background(create_app(s, engine=engine, queue=queue), port=_free_port()) as bg:
        client = OpenAI(base_url=bg.url + "/v1", api_key="unused", max_retries=0, timeout=600)
        _streamed(client, paired[0].text)                  # untimed: everything is warm
        rows = []
        for q in paired:
            local = engine.answer(q.text)
            api = _streamed(client, q.text)
            rows.append({"question": q.text, "in_process_total_s": local.timings.get("total_s"),
                         "in_process_first_token_s": local.timings.get("first_token_s"),
                         "api_first_content_s": api["first_content_s"], "api_total_s": api["wall_s"],
                         "api_added_ms": None if api["server_total_s"] is None
                         else 1000 * (api["wall_s"] - api["server_total_s"]),
                         "right_in_process": found(local.answer, q.expect),
                         "right_api": found(answer_part(api["content"]), q.expect)})

        results: list[dict] = []
        lock = threading.Lock()

        def one_client(i: int) -> None:
            c = OpenAI(base_url=bg.url + "/v1", api_key="unused", max_retries=0, timeout=600)
            for j in range(per_client):
                q = qs[(i * per_client + j) % len(qs)]
                try:
                    r = _streamed(c, q.text)
                    row = {"right": found(answer_part(r["content"]), q.expect),
                           "own": r["retrieval_query"] == " ".join(q.text.split()) and bool(r["citations"]),
                           "error": ""}
                except Exception as exc:  # noqa: BLE001 - counted, not fatal
                    row = {"right": False, "own": False, "error": type(exc).__name__}
                with lock:
                    results.append(row)

        t = time.monotonic()
        threads = [threading.Thread(target=one_client, args=(i,)) for i in range(clients)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        concurrent_s = time.monotonic() - t
    res["api"] = {
        "rows": rows,
        "api_added_ms_median": _median([r["api_added_ms"] for r in rows]),
        "in_process_total_s_median": _median([r["in_process_total_s"] for r in rows]),
        "in_process_first_token_s_median": _median([r["in_process_first_token_s"] for r in rows]),
        "api_first_content_s_median": _median([r["api_first_content_s"] for r in rows]),
        "api_total_s_median": _median([r["api_total_s"] for r in rows]),
        "concurrent": {"clients": clients, "per_client": per_client, "answers": len(results),
                       "right": sum(r["right"] for r in results), "own": sum(r["own"] for r in results),
                       "errors": sum(bool(r["error"]) for r in results), "seconds": round(concurrent_s, 1),
                       "right_in_process": sum(r["right_in_process"] for r in rows), "paired": len(rows)},
    }


def report_lines(api: dict, fmt, table) -> list[str]:
    """The report section (``fmt`` formats a number and ``table`` makes a table, as the rest of the report does)."""
    c = api["concurrent"]
    lines = ["`rag serve`'s app on 127.0.0.1 with the same warm engine, through the `openai` client (streaming), "
             "question by question in turn with the in-process answer. The API streams only verified text, so its "
             "first content comes after verification. 'Added by the API' = API wall time − the server's own "
             "total for the same answer.", ""]
    lines += table(["", "median"], [
        ["in-process: first draft token", f"{fmt(api['in_process_first_token_s_median'], 2)} s"],
        ["in-process: verified answer", f"{fmt(api['in_process_total_s_median'], 2)} s"],
        ["API: first streamed (verified) content", f"{fmt(api['api_first_content_s_median'], 2)} s"],
        ["API: whole streamed answer", f"{fmt(api['api_total_s_median'], 2)} s"],
        ["added by the API", f"{fmt(api['api_added_ms_median'], 1)} ms"]]) + [""]
    lines += [f"{c['clients']} clients × {c['per_client']} questions at once ({c['seconds']} s): "
              f"{c['right']} of {c['answers']} right, {c['own']} of {c['answers']} carried their own question and "
              f"citations, {c['errors']} failed (in-process, one at a time: {c['right_in_process']} of {c['paired']} "
              "right)."]
    return lines
