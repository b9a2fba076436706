"""Load: many callers at once while the index is rebuilt, and a long run of questions in one process.

Policy under load: the chat window's queue runs one model call at a time; Python callers (threads
calling ``rag.answer``) wait their turn for the model in arrival order, for at most the generator's
``wait_s`` (120 s), and only then get a ``BusyError``.

The soak test asks ``RAG_SOAK`` questions (default 24, with answers cut at 16 tokens); run the long
version by hand with ``RAG_SOAK=300 pytest tests/test_load.py -k soak -s`` (``RAG_SOAK_REPORT=FILE``
also writes the RSS, file-descriptor and timing curve there as JSON, every ten questions).
"""
from __future__ import annotations

import json
import os
import shutil
import statistics
import threading
import time
from pathlib import Path

import pytest

import rag
from rag.config import REPO_ROOT, Settings
from rag.documents import read_text
from rag.errors import BusyError
from rag.generate import FairLock
from rag.pipeline import Engine, build_index, get_engine, shared_generator

from conftest import serve_local

SEEDS = REPO_ROOT / "seeds"
# Seed questions with different answers (and so, mostly, different passages): the public ones the
# documents answer, then some of them in other words.
FIXTURES = Path(__file__).parent / "fixtures"
QUESTIONS = [d["question"] for d in map(json.loads, (FIXTURES / "seeds_qa.jsonl").open()) if d["answerable"]] + [
    json.loads(line)["question"] for line in (FIXTURES / "seed_questions.jsonl").open()]


# --------------------------------------------------------------------------- the model's turn-taking


def test_the_fair_lock_serves_waiters_in_arrival_order_and_bounds_the_wait():
    lock = FairLock()
    assert lock.acquire(timeout=1)
    order, threads = [], []
    for i in range(5):
        def run(i=i):
            assert lock.acquire(timeout=10)
            order.append(i)
            time.sleep(0.01)
            lock.release()
        t = threading.Thread(target=run)
        t.start()
        threads.append(t)
        while lock.waiting < i + 1:        # each waiter is queued before the next one arrives
            time.sleep(0.001)
    t0 = time.monotonic()
    assert not lock.acquire(timeout=0.2)   # a sixth caller gives up after its bounded wait
    assert 0.15 < time.monotonic() - t0 < 2
    lock.release()
    for t in threads:
        t.join(5)
    assert order == [0, 1, 2, 3, 4]
    assert not lock.locked() and lock.waiting == 0
    with pytest.raises(RuntimeError):
        lock.release()


@pytest.mark.integration
def test_python_callers_wait_their_turn_and_a_bounded_wait_ends_in_busy(monkeypatch):
    gen = shared_generator(Settings.from_env())
    prompt = gen.render([{"role": "user", "content": "Count from one to fifty in words."}])
    results: dict[int, object] = {}

    def ask(i: int) -> None:
        try:
            results[i] = "".join(gen.stream(prompt, max_tokens=12, timeout_s=60))
        except BusyError as exc:
            results[i] = exc

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    assert all(isinstance(r, str) and r for r in results.values()) and len(results) == 3  # all waited

    # Someone holds the model longer than a caller will wait: that caller is told, in one line.
    monkeypatch.setattr(gen, "wait_s", 0.3)
    holder = gen.stream(prompt, max_tokens=40, timeout_s=60)
    next(holder)                          # the model is now in use
    try:
        t0 = time.monotonic()
        with pytest.raises(BusyError) as err:
            next(gen.stream(prompt, max_tokens=4, timeout_s=60))
        assert 0.25 < time.monotonic() - t0 < 5
        assert "busy" in str(err.value) and "\n" not in str(err.value)
    finally:
        holder.close()                    # giving up a stream frees the model at once
    assert not gen._lock.locked()
    monkeypatch.setattr(gen, "wait_s", 120.0)
    assert "".join(gen.stream(prompt, max_tokens=4, timeout_s=60))


# --------------------------------------------------------------------------- many callers at once



def retrieved(engine: Engine, question: str) -> set[tuple[str, int, int]]:
    """Where the passages retrieved for ``question`` are (the Sources event; no model call)."""
    events = engine.stream(question)
    sources = next(events)
    events.close()
    return {(c.source, c.start, c.end) for c in sources.citations}


@pytest.mark.integration
def test_eight_chat_clients_and_four_threads_at_once_during_a_rebuild(tmp_path):
    from gradio_client import Client
    from gradio_client.exceptions import AppError

    seeds = tmp_path / "seeds"
    shutil.copytree(SEEDS, seeds)
    settings = Settings.from_env(seeds_dir=seeds, index_dir=tmp_path / "index")
    build_index(settings)
    engine = get_engine(settings)           # the engine the window and rag.answer share
    old_version = engine.snapshot.version
    # The check below can tell answers apart only if the questions retrieve different passages:
    # take the first 12 questions whose retrieved passage sets all differ.
    chosen: dict[str, set] = {}
    for q in QUESTIONS:
        got = retrieved(engine, q)
        if all(got != other for other in chosen.values()):
            chosen[q] = got
    assert len(chosen) >= 12, "the seed questions no longer retrieve 12 different passage sets"
    before = dict(list(chosen.items())[:12])
    ui_questions, py_questions = list(before)[:8], list(before)[8:12]

    demo, url = serve_local(settings)
    results: list[dict] = []
    record = threading.Lock()
    try:
        # A client waits as long as the queue needs (its default read timeout is shorter).
        clients = [Client(f"{url}/", verbose=False, httpx_kwargs={"timeout": 900})
                   for _ in ui_questions]
        start = threading.Barrier(len(ui_questions) + len(py_questions) + 1)

        def note(**kw) -> None:
            with record:
                results.append(kw)

        def ui_caller(client, q) -> None:
            start.wait()
            t0 = time.monotonic()
            try:
                note(who="ui", q=q, kind="answer", answer=client.predict(q, api_name="/ask"),
                     s=time.monotonic() - t0)
            except AppError as exc:
                note(who="ui", q=q, kind="busy" if "busy" in str(exc) else "error", msg=str(exc),
                     s=time.monotonic() - t0)
            except Exception as exc:  # noqa: BLE001 - anything else is a failure, recorded with its type
                note(who="ui", q=q, kind="error", msg=f"{type(exc).__name__}: {exc}", s=time.monotonic() - t0)

        def py_caller(q) -> None:
            start.wait()
            t0 = time.monotonic()
            try:
                a = rag.answer(q, seeds_dir=seeds, index_dir=settings.index_dir)
                note(who="py", q=q, kind="answer", answer=a.to_dict(), s=time.monotonic() - t0)
            except BusyError as exc:
                note(who="py", q=q, kind="busy", msg=str(exc), s=time.monotonic() - t0)
            except Exception as exc:  # noqa: BLE001
                note(who="py", q=q, kind="error", msg=f"{type(exc).__name__}: {exc}", s=time.monotonic() - t0)

        def rebuilder() -> None:
            start.wait()
            time.sleep(0.5)                  # while the first questions are being answered
            t0 = time.monotonic()
            (seeds / "lighthouse.txt").write_text(
                "The Harbour Point lighthouse was built in 1871 by the engineer Margaret Olsen. "
                "Its lamp can be seen from 22 nautical miles away on a clear night.\n")
            try:
                report = rag.build_index(seeds_dir=seeds, index_dir=settings.index_dir)
                note(who="rebuild", kind="done", version=report.version, added=report.added,
                     s=time.monotonic() - t0)
            except Exception as exc:  # noqa: BLE001
                note(who="rebuild", kind="error", msg=f"{type(exc).__name__}: {exc}", s=time.monotonic() - t0)

        threads = ([threading.Thread(target=ui_caller, args=(c, q)) for c, q in zip(clients, ui_questions)]
                   + [threading.Thread(target=py_caller, args=(q,)) for q in py_questions]
                   + [threading.Thread(target=rebuilder)])
        t_all = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join(900)
        wall = time.monotonic() - t_all
        assert not any(t.is_alive() for t in threads), "a caller never returned"
        for c in clients:
            c.close()
    finally:
        demo.close()

    errors = [r for r in results if r["kind"] == "error"]
    assert not errors, [(r["who"], r.get("q"), r["msg"][:300], round(r["s"], 1)) for r in errors]
    [rebuild] = [r for r in results if r["who"] == "rebuild"]
    assert rebuild["added"] == ["lighthouse.txt"] and rebuild["version"] != old_version
    answers = [r for r in results if r["kind"] == "answer"]
    busy = [r for r in results if r["kind"] == "busy"]
    # The window's queue holds 16 and 8 callers came: none is told "busy"; Python callers wait their turn.
    assert busy == [], [(r["who"], r["msg"]) for r in busy]
    assert len(answers) == 12 and {r["q"] for r in answers} == set(before)

    # No mixed-up answers: each cites only passages retrieved for its own question (from the
    # index version it was answered from: before or after the rebuild).
    after = {q: retrieved(engine, q) for q in before}
    versions = set()
    for r in answers:
        a, q = r["answer"], r["q"]
        assert a["question"] == q
        versions.add(a["index_version"])
        cited = {(c["source"], c["start"], c["end"]) for c in a["citations"]}
        assert cited <= before[q] | after[q], (q, a["answer"], cited)
        for c in a["citations"]:
            assert read_text(seeds / c["source"])[c["start"]:c["end"]] == c["quote"]
    assert versions <= {old_version, rebuild["version"]}
    times = sorted(r["s"] for r in answers)
    print(f"\nconcurrency: {len(answers)} answered ({sum(r['who'] == 'ui' for r in answers)} chat, "
          f"{sum(r['who'] == 'py' for r in answers)} Python), {len(busy)} busy, 0 errors; "
          f"wall {wall:.1f} s; per caller min {times[0]:.1f} s, median {statistics.median(times):.1f} s, "
          f"max {times[-1]:.1f} s; rebuild {rebuild['s']:.1f} s; answered from versions {sorted(versions)}")


# --------------------------------------------------------------------------- soak


def _window(values: list[float], a: int, b: int) -> list[float]:
    return values[a:b] if b > a else values[a:a + 1]


@pytest.mark.integration
def test_soak_memory_files_and_speed_stay_flat(tmp_path):
    import psutil

    n = int(os.environ.get("RAG_SOAK", "24"))
    long_run = "RAG_SOAK" in os.environ
    # The first third (at most 100) warms caches and allocators; llama.cpp's memory settles after
    # about 40 answers, so a long run warms up at least that long.
    warm = min(100, max(n // 3, 40 if long_run and n > 60 else 5))
    index_dir = tmp_path / "index"
    settings = Settings.from_env(seeds_dir=SEEDS, index_dir=index_dir,
                                 max_answer_tokens=160 if long_run else 16)
    build_index(settings)
    engine = Engine(settings)
    proc = psutil.Process()
    report = os.environ.get("RAG_SOAK_REPORT")       # a file for the curve (JSON), if wanted
    rss, anon, fds, secs = [], [], [], []   # anon: RSS less file-backed pages (the model file is mapped)
    # A short run asks a third as many questions, each three times; a long run goes round all of them.
    pool = QUESTIONS[: max(1, min(len(QUESTIONS), n // 3))]
    given: dict[str, set[str]] = {}      # after the warm-up, what each question was answered
    for i in range(n):
        q = pool[i % len(pool)]
        t0 = time.monotonic()
        a = engine.answer(q)
        secs.append(time.monotonic() - t0)
        for c in a.citations:
            assert read_text(SEEDS / c.source)[c.start:c.end] == c.quote
        if i >= warm:
            given.setdefault(q, set()).add(a.answer)
        mem = proc.memory_info()
        rss.append(mem.rss)
        anon.append(mem.rss - mem.shared)
        fds.append(proc.num_fds())
        if report and (i % 10 == 9 or i == n - 1):      # the curve so far, for a long run watched by hand
            Path(report).write_text(json.dumps({"rss": rss, "anon": anon, "fds": fds, "seconds": secs,
                                                "warm": warm}))
    base_rss, base_fds = rss[warm - 1], fds[warm - 1]
    growth = (max(rss[warm:]) - base_rss) / base_rss
    anon_growth = (max(anon[warm:]) - anon[warm - 1]) / anon[warm - 1]
    third = max(1, (n - warm) // 3)
    early = statistics.median(_window(secs, warm, warm + third))
    late = statistics.median(secs[-third:])
    mib = 1 << 20
    marks = sorted({warm - 1, *range(0, n, max(1, n // 6)), n - 1})
    print(f"\nsoak: {n} questions, warm-up {warm}; RSS {rss[0] / mib:.0f} → {base_rss / mib:.0f} (after warm-up) "
          f"→ {rss[-1] / mib:.0f} MiB, max after warm-up {max(rss[warm:]) / mib:.0f} MiB, growth {growth:+.1%} "
          f"(anonymous memory {anon[warm - 1] / mib:.0f} → {anon[-1] / mib:.0f} MiB, {anon_growth:+.1%}); "
          f"fds {fds[0]} → {base_fds} → {fds[-1]} (max {max(fds[warm:])}); "
          f"seconds/question median early {early:.2f}, late {late:.2f}, total {sum(secs):.0f} s")
    print("soak curve (question: RSS MiB, anonymous MiB, fds, s): "
          + "; ".join(f"{i + 1}: {rss[i] / mib:.0f}, {anon[i] / mib:.0f}, {fds[i]}, {secs[i]:.2f}" for i in marks))
    assert max(fds[warm:]) <= base_fds + 2 and fds[-1] <= base_fds, (base_fds, fds[warm:])
    assert growth < 0.10, f"RSS grew {growth:.1%} after warm-up"
    if warm >= 40:   # a shorter run ends before llama.cpp's allocations have settled
        assert anon_growth < 0.10, f"anonymous memory grew {anon_growth:.1%} after warm-up"
    assert late <= 2.0 * early + 0.5, (early, late)
    # nothing carried over from one question to the next: asked again, a question gets the same answer
    assert {q: len(answers) for q, answers in given.items() if len(answers) > 1} == {}, given
