"""Benchmark of the chat process, part of `rag bench`: `rag ui` started as a new process — cold
start until HTTP 200, the first and a second answer through its API, and its peak RSS."""
from __future__ import annotations

import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from .bench_common import Plan, Question, _child_env, _free_port, _r, peak_rss_mb
from .config import REPO_ROOT, Settings


def bench_chat(settings: Settings, plan: Plan, questions: list[Question], index_dir: Path, res: dict) -> None:
    port = _free_port()
    url = f"http://127.0.0.1:{port}/"
    cmd = [sys.executable, "-m", "rag.cli", "ui", "--host", "127.0.0.1", "--port", str(port),
           "--seeds", str(settings.seeds_dir), "--index", str(index_dir)]
    log = tempfile.TemporaryFile(mode="w+")        # not a pipe: a full pipe would stall the server
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, env=_child_env(settings), cwd=str(REPO_ROOT), stdout=subprocess.DEVNULL,
                            stderr=log, text=True)
    try:
        ready = None
        while time.monotonic() - t0 < 180:
            if proc.poll() is not None:
                log.seek(0)
                raise RuntimeError(f"rag ui exited with status {proc.returncode}: "
                                   f"{(log.read().strip().splitlines() or [''])[-1]}")
            try:
                with urllib.request.urlopen(url, timeout=2) as r:
                    if r.status == 200:
                        ready = time.monotonic() - t0
                        break
            except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
                pass
            time.sleep(0.05)
        if ready is None:
            raise RuntimeError("rag ui did not answer HTTP within 180 s")
        from gradio_client import Client

        client = Client(url, verbose=False)
        t = time.monotonic()
        first = client.predict(questions[0].text, api_name="/ask")
        first_answer_s = time.monotonic() - t
        next_answer_s = None
        if plan.chat_answers > 1:
            t = time.monotonic()
            client.predict(questions[-1].text, api_name="/ask")
            next_answer_s = time.monotonic() - t
        rss = peak_rss_mb(proc.pid)
        res["chat"] = {"ready_s": round(ready, 2), "first_answer_s": round(first_answer_s, 2),
                       "first_answer_after_start_s": round(ready + first_answer_s, 2),
                       "next_answer_s": _r(next_answer_s, 2), "peak_rss_mb": rss,
                       "answered": bool(first.get("answer")) if isinstance(first, dict) else False}
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
