"""Benchmarks of speed from a standing start, and of llama.cpp builds side by side.

* cold start — a new process answering one question, phase by phase (interpreter and imports,
  model check, index, embedding model, LLM, the prompt's fixed part, first token, verified
  answer), once without and once with the saved prefix state; and `rag ask` from the shell, end
  to end, as a user runs it;
* llama.cpp builds — the same warm answers in child processes, one per Python environment whose
  llama-cpp-python was built with a different CPU instruction set (``--llama-build PYTHON``), so
  an AVX2-only build can be measured on a machine that also has AVX-512.
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from .bench_common import _last_json, _run, median, p95
from .config import Settings
from .convert import build_name

_COLD_CHILD = r"""
import json, sys, time
t_start = float(sys.argv[3])
marks = {"python_started": time.time() - t_start}
from rag import cli, pipeline, prompt, models
from rag.config import Settings
marks["imports"] = time.time() - t_start
s = Settings.from_env(seeds_dir=sys.argv[1], index_dir=sys.argv[2])
models.resolve(s.model, s.models_dir)
marks["model_check"] = time.time() - t_start
eng = pipeline.Engine(s)
eng.retriever()
marks["index_loaded"] = time.time() - t_start
eng.embedder.warm_up()
marks["embedder_loaded"] = time.time() - t_start
gen = eng.generator
gen.warm_up()
marks["llm_loaded"] = time.time() - t_start
how = gen.prime(prompt.fixed_part(gen)) if hasattr(gen, "prime") else ""
marks["prefix_ready"] = time.time() - t_start
t_q = time.monotonic()
a = eng.answer(sys.argv[4])
marks["first_token"] = marks["prefix_ready"] + (a.timings.get("first_token_s") or 0.0)
marks["answer"] = time.time() - t_start
import llama_cpp
print(json.dumps({"marks": marks, "prefix": how, "abstained": a.abstained, "answer": a.answer,
                  "system": llama_cpp.llama_print_system_info().decode("utf-8", "replace"),
                  "model_file": str(getattr(gen, "model_path", "")),
                  "prompt_tokens": a.timings.get("prompt_tokens"), "cached_tokens": a.timings.get("cached_tokens")}))
"""

PHASES = [("python_started", "interpreter start"), ("imports", "imports"), ("model_check", "model file check"),
          ("index_loaded", "index (vectors, chunks, keyword index)"), ("embedder_loaded", "embedding model"),
          ("llm_loaded", "LLM load"), ("prefix_ready", "prompt's fixed part into the KV cache"),
          ("first_token", "question to first token"), ("answer", "rest of the verified answer"),
          ("exit", "process exit")]


def _cold_once(settings: Settings, python: str, index_dir: Path, question: str) -> dict:
    t0 = time.time()
    stdout = _run(settings, [python, "-c", _COLD_CHILD, str(settings.seeds_dir), str(index_dir), repr(t0), question],
                  "cold-start child failed")
    end = time.time() - t0
    out = _last_json(stdout)
    out["marks"]["exit"] = end
    prev, phases = 0.0, {}
    for key, _ in PHASES:
        at = out["marks"][key]
        phases[key] = round(at - prev, 3)
        prev = at
    out["phases_s"] = phases
    out["total_s"] = round(end, 3)
    return out


def _shell_ask(settings: Settings, python: str, index_dir: Path, question: str) -> float:
    t0 = time.monotonic()
    _run(settings, [python, "-m", "rag.cli", "ask", "--seeds", str(settings.seeds_dir), "--index", str(index_dir),
                    question], "rag ask failed")
    return time.monotonic() - t0


def bench_cold_start(settings: Settings, index_dir: Path, question: str, res: dict, *, runs: int = 3,
                     pythons: list[str] | None = None) -> None:
    """A new process answering ``question``, for this Python's llama.cpp build and each of
    ``pythons``: phases without, then with, the saved prefix state; and `rag ask` from the shell
    (``runs`` times, the median), with the state saved by the first run."""
    from . import prefix_state

    out = []
    for python in [sys.executable, *(pythons or [])]:
        _cold_once(settings, python, index_dir, question)     # untimed: files in the page cache, state saved
        for p in prefix_state.saved(prefix_state.state_dir(settings.models_dir)):
            prefix_state.forget(p)
        without = _cold_once(settings, python, index_dir, question)
        with_state = _cold_once(settings, python, index_dir, question)
        shell = [_shell_ask(settings, python, index_dir, question) for _ in range(runs)]
        out.append({"python": python, "build": build_name(with_state["system"]),
                    "model_file": Path(with_state["model_file"]).name, "without_state": without,
                    "with_state": with_state, "rag_ask_s": [round(x, 2) for x in shell],
                    "rag_ask_median_s": round(median(shell), 2)})
    res["cold"] = {"question": question, "builds": out}


def report_lines(cold: dict) -> list[str]:
    builds = cold["builds"]
    lines = [f"A new process answering “{cold['question']}”, phase by phase (seconds; files already in the page "
             "cache), for each llama.cpp build. Without: the prompt's fixed part is read by the model; with: its "
             "state is loaded from `models/states/`.", ""]
    head = ["phase"] + [f"{b['build']} ({b['model_file']}) {w}" for b in builds for w in ("without", "with")]
    lines += ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for key, label in PHASES:
        lines.append(f"| {label} | " + " | ".join(f"{b[w]['phases_s'][key]:.2f}" for b in builds
                                                   for w in ("without_state", "with_state")) + " |")
    lines.append("| **total** | " + " | ".join(f"**{b[w]['total_s']:.2f}**" for b in builds
                                               for w in ("without_state", "with_state")) + " |")
    lines.append("")
    for b in builds:
        lines.append(f"- {b['build']}: `rag ask \"…\"` from the shell, end to end (no server running; "
                     f"{len(b['rag_ask_s'])} runs): median **{b['rag_ask_median_s']:.2f} s** "
                     f"({', '.join(f'{x:.2f}' for x in b['rag_ask_s'])}).")
    return lines


# --------------------------------------------------------------------------- llama.cpp builds

_BUILD_CHILD = r"""
import json, sys, time
import llama_cpp
from rag import pipeline
from rag.config import Settings
qs = json.loads(sys.argv[3])
s = Settings.from_env(seeds_dir=sys.argv[1], index_dir=sys.argv[2], max_answer_tokens=int(sys.argv[4]))
eng = pipeline.Engine(s)
eng.warm_up()
eng.answer(qs[0])
rows = []
for rnd in range(int(sys.argv[5])):
    for q in qs:
        a = eng.answer(q)
        t = a.timings
        rows.append({"question": q, "answer": a.answer, "abstained": a.abstained,
                     "first_token_s": t.get("first_token_s"), "total_s": t.get("total_s"),
                     "new_tokens": (t.get("prompt_tokens") or 0) - (t.get("cached_tokens") or 0),
                     "prompt_eval_s": t.get("prompt_eval_s"), "completion_tokens": t.get("completion_tokens"),
                     "generate_s": t.get("generate_s")})
print(json.dumps({"system": llama_cpp.llama_print_system_info().decode().strip(),
                  "model_file": str(getattr(eng.generator, "model_path", "")), "rows": rows}))
"""


def bench_builds(settings: Settings, pythons: list[str], index_dir: Path, questions, res: dict, *,
                 max_answer_tokens: int, rounds: int = 1, found=None) -> None:
    """The same warm answers with each Python environment's llama-cpp-python build."""
    out = []
    for python in [sys.executable, *pythons]:
        d = _last_json(_run(settings, [python, "-c", _BUILD_CHILD, str(settings.seeds_dir), str(index_dir),
                                       json.dumps([q.text for q in questions]), str(max_answer_tokens), str(rounds)],
                            python, timeout=6 * 3600))
        rows = d["rows"]
        first = sorted(r["first_token_s"] for r in rows if r["first_token_s"] is not None)
        pp = [r["new_tokens"] / r["prompt_eval_s"] for r in rows if r.get("prompt_eval_s")]
        gen = [(r["completion_tokens"] - 1) / r["generate_s"] for r in rows
               if r.get("generate_s") and (r.get("completion_tokens") or 0) > 1]
        by_q = {q.text: q for q in questions}
        right = sum(1 for r in rows if found and by_q[r["question"]].expect and not r["abstained"]
                    and found(r["answer"], by_q[r["question"]].expect))
        out.append({"python": python, "build": build_name(d["system"]), "system": d["system"],
                    "model_file": Path(d["model_file"]).name, "answers": len(rows),
                    "first_token_median_s": median(first), "first_token_p95_s": p95(first),
                    "total_median_s": median([r["total_s"] for r in rows]),
                    "new_tokens_median": median([r["new_tokens"] for r in rows]),
                    "pp_tok_s_median": median(pp), "gen_tok_s_median": median(gen), "right": right})
    res["builds"] = {"rows": out, "rounds": rounds, "questions": len(questions)}


def builds_report_lines(builds: dict) -> list[str]:
    lines = [f"The same warm answers ({builds['questions']} questions × {builds['rounds']} round(s), after one untimed "
             "answer) in one child process per llama-cpp-python build, one after the other.", "",
             "| build | model file | first token median s | p95 s | total median s | new prompt tokens | "
             "prompt tok/s | generation tok/s | right |", "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in builds["rows"]:
        lines.append(f"| {r['build']} | {r['model_file']} | {r['first_token_median_s']:.2f} | {r['first_token_p95_s']:.2f} "
                     f"| {r['total_median_s']:.2f} | {r['new_tokens_median']} | {r['pp_tok_s_median']:.0f} | "
                     f"{r['gen_tok_s_median']:.1f} | {r['right']} |")
    return lines
