"""The report of `rag bench`: ``BENCHMARKS.md`` (machine and settings, the conclusions the figures
support, a section per benchmark) and the chart ``docs/bench.png``, both from a run's results."""
from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import numpy as np

from .bench_common import SECTIONS, Plan
from .bench_formats import report_lines as formats_report


def _fmt(x, nd=1):
    if x is None:
        return "–"
    if isinstance(x, bool):
        return "yes" if x else "no"
    if isinstance(x, int):
        return f"{x:,}"
    if isinstance(x, float):
        if x and abs(x) < 1 and nd < 2:
            return f"{x:.2f}"
        return f"{x:,.{nd}f}"
    return str(x)


def _plain(v) -> str:
    return ",".join(str(x) for x in v) if isinstance(v, (list, tuple)) else str(v)


def _table(header: list[str], rows: list[list]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "| " + " | ".join("---" for _ in header) + " |"]
    out += ["| " + " | ".join(_fmt(c) if not isinstance(c, str) else c for c in row) + " |" for row in rows]
    return out


def conclusions(res: dict) -> list[str]:
    """The choices the measurements support, stated from this run's numbers."""
    out = []
    em = res.get("embeddings")
    if em:
        hr = em["hit_rate"]
        ok = (em["cosine_chunks_mean"] or 0) >= 0.99 and (hr["onnx_index_onnx_queries"] or 0) >= (hr["torch_index_torch_queries"] or 0)
        out.append(
            f"Embeddings: the int8 ONNX export {'meets' if ok else 'misses'} the quality bar (mean cosine to PyTorch "
            f"{em['cosine_chunks_mean']} on passages, {em['cosine_questions_mean']} on questions, bar 0.99; hit rate "
            f"{hr['onnx_index_onnx_queries']} against {hr['torch_index_torch_queries']}) and embeds "
            f"{em['speedup']}× as many chunks/s ({em['backends']['onnx']['chunks_per_s']} against "
            f"{em['backends']['torch']['chunks_per_s']}), so {'it is' if ok else 'PyTorch stays'} the default "
            "(`RAG_EMBED_BACKEND=torch|onnx`).")
        mixed, base = hr["torch_index_onnx_queries"] or 0, hr["torch_index_torch_queries"] or 0
        out.append(
            "Index identity: an index built with PyTorch vectors and searched with ONNX query vectors has hit rate "
            f"{hr['torch_index_onnx_queries']} (PyTorch queries: {hr['torch_index_torch_queries']}); "
            + ("the vectors are interchangeable, so the backend is not part of the index's identity and switching "
               "backends does not force re-embedding." if mixed >= base else
               "mixing the backends loses hits here, so the backend should be part of the index's identity."))
    rt = res.get("retrieval")
    if rt:
        parts = [f"{r['vectors']:,}: {r['index'].replace('faiss-', '')}, search p95 {_fmt(r['search_ms_p95'])} ms "
                 f"(exact {_fmt(r['exact_search_ms_p95'])} ms), recall@10 {_fmt(r['recall_at_10'], 3)}" for r in rt["rows"]]
        out.append(f"Vector index: exact search up to {rt['exact_max']:,} vectors, IVF beyond — " + "; ".join(parts) + ".")
    tu = res.get("llama_tuning")
    if tu:
        best, default = tu["best"], tu["default"]
        same = best["threads"] == default["threads"] and best["n_batch"] == default["n_batch"]
        text = (f"llama.cpp: the fastest prompt processing here was {best['threads']} thread(s), n_batch {best['n_batch']} "
                f"({_fmt(best['pp_tok_s'])} tok/s); the default ({default['threads']} threads, n_batch {default['n_batch']}) "
                f"gave {_fmt(default['pp_tok_s'])} tok/s.")
        m = res["machine"]
        if not same and m["load_start"][0] > 0.5 * m["cores"]:
            text += (" The machine was busy, and a thread that waits for a busy core slows every llama.cpp thread "
                     "down, so this run does not justify changing the default; a run on a quiet machine decides.")
        elif not same and best["pp_tok_s"] < 1.05 * default["pp_tok_s"]:
            text += " The difference is within this machine's run-to-run noise, so the default stays."
        out.append(text)
    llm = res.get("llm")
    if llm and llm.get("gen_ratio"):
        text = (f"The pipeline generated at {llm['gen_ratio']}× the tokens/s of llama.cpp called directly "
                f"(prompt processing {llm['pp_ratio']}×, {llm['pairs']} pairs)")
        if llm["gen_ratio"] >= 0.9:
            text += ": its own overhead per token is small."
        else:
            text += (": slower than llama.cpp alone in this run. Both stream the same tokens through "
                     "`create_completion`, so on a busy machine the gap is as likely the load changing between the "
                     "two halves of a pair as overhead; the run on a quiet machine tells which.")
        out.append(text)
    return out


def write_report(res: dict, out: Path) -> Path:
    m, st = res["machine"], res["settings"]
    cmd = res["command"]
    # Only the load before the run tells whether other work shared the machine: the run makes its own.
    busy = m["load_start"][0] > 0.5 * m["cores"]
    full = asdict(Plan())
    reduced = [f"{k.replace('_', ' ')} {_plain(res['plan'].get(k))} instead of {_plain(v)}" for k, v in full.items()
               if k in ("rounds", "index_chunks", "vector_sizes") and _plain(res["plan"].get(k)) != _plain(v)]
    sizes = ("quick smoke-test sizes" if res["quick"] else
             "reduced sizes: " + ", ".join(reduced) if reduced else "full sizes")
    L = ["# Benchmarks", "",
         f"Produced by `{cmd}` on {m['date']} ({sizes}). "
         "All figures of one run come from the same machine state; compare ratios within a run.", ""]
    if busy:
        L += [f"**The machine was busy during this run** (load average {m['load_start'][0]} at the start and "
              f"{m.get('load_end', ['?'])[0]} at the end on {m['cores']} cores): absolute times are slower than on a "
              "quiet machine; the ratios measured side by side hold better.", ""]
    L += ["## Machine and settings", ""]
    L += _table(["", ""], [
        ["CPU", f"{m['cpu']}, {m['cores']} cores available, {m['ram_gb']} GB RAM"],
        ["CPU flags", ", ".join(m["flags"]) or "–"],
        ["llama.cpp build", m["llama_cpp_build"].replace("|", "/")],
        ["versions", ", ".join(f"{k} {v}" for k, v in m["versions"].items())],
        ["load average (1 min)", f"{m['load_start'][0]} at start, {m.get('load_end', ['?'])[0]} at end"],
        ["settings", f"model {st['model']}, embedding {st['embed_model']} ({st['embed_backend']} backend), "
                     f"threads {st['threads']}, n_ctx {st['n_ctx']}, top_k {st['top_k']}, candidates {st['candidates']}, "
                     f"max answer tokens {st['max_answer_tokens']}, chunks {st['chunk_tokens']}/{st['chunk_overlap_tokens']} tokens"],
        ["questions", f"`{res['questions_file']}` ({res['questions']} questions)"],
    ])
    L += ["", "![benchmarks](docs/bench.png)", ""]
    summary = conclusions(res)
    if summary:
        L += ["## What the figures decide", ""] + [f"- {line}" for line in summary] + [""]

    def section(key: str, body: list[str]) -> None:
        L.extend([f"## {SECTIONS[key]}", ""])
        if key in res.get("errors", {}):
            L.extend([f"Not measured: {res['errors'][key]}", ""])
        else:
            L.extend(body + [""])

    s = res.get("stages", {})
    if s:
        rows = [[v["label"], v["median_ms"], v["p95_ms"]] for v in s["stages"].values()]
        body = [f"Warm answers (`Engine.answer`, after `warm_up` and one untimed answer): {s['answers']} answers = "
                f"{s['questions']} questions × {s['rounds']} rounds. Times in ms. Command: `{cmd}`.", ""]
        body += _table(["stage", "median ms", "p95 ms"], rows)
    else:
        body = []
    section("stages", body)

    lat = res.get("latency", {})
    body = []
    if lat:
        body = [f"The same {lat['answers']} warm answers, from the question to the first model token and to the verified "
                "answer. Seconds.", ""]
        body += _table(["", "median s", "p95 s"], [
            ["retrieval (embed, search, fusion, evidence)", lat["retrieve_s"]["median_s"], lat["retrieve_s"]["p95_s"]],
            ["time to first token", lat["first_token_s"]["median_s"], lat["first_token_s"]["p95_s"]],
            ["total (verified answer)", lat["total_s"]["median_s"], lat["total_s"]["p95_s"]]])
    section("latency", [str(x) if not isinstance(x, str) else x for x in body])

    llm = res.get("llm", {})
    body = []
    if llm:
        body = [f"Each pipeline answer was followed by llama-cpp-python's `Llama` called directly with the same model, "
                f"the same rendered prompt and the same max tokens ({llm['max_tokens']}), greedy; {llm['pairs']} "
                f"pairs, {llm['same_output']} with identical text. Prompts: median {_fmt(llm['prompt_tokens_median'], 0)} "
                f"tokens, of which {_fmt(llm['uncached_prompt_tokens_median'], 0)} not already in the KV cache; median "
                f"{_fmt(llm['completion_tokens_median'], 0)} tokens generated. Tokens/s are medians over the pairs; the "
                "ratio is the median of the per-pair ratios.", ""]
        body += _table(["", "pipeline tok/s", "llama.cpp direct tok/s", "ratio"], [
            ["generation", llm["pipeline_gen_tok_s"], llm["direct_gen_tok_s"], _fmt(llm["gen_ratio"], 3)],
            ["prompt processing (uncached tokens)", llm["pipeline_pp_tok_s"], llm["direct_pp_tok_s"],
             _fmt(llm["pp_ratio"], 3)]])
    section("llm", body)

    tu = res.get("llama_tuning", {})
    body = []
    if tu:
        body = [f"A prompt of {tu['rows'][0]['prompt_tokens']} tokens (an answer prompt of this run) evaluated from an "
                "empty KV cache by `Llama.eval`, per threads and n_batch; generation measured once per thread count. "
                f"Best: {tu['best']['threads']} threads, n_batch {tu['best']['n_batch']} "
                f"({_fmt(tu['best']['pp_tok_s'])} tok/s); the default is {tu['default']['threads']} threads, "
                f"n_batch {tu['default']['n_batch']} ({_fmt(tu['default']['pp_tok_s'])} tok/s).", ""]
        body += _table(["threads", "n_batch", "prompt tok/s", "generation tok/s"],
                       [[r["threads"], r["n_batch"], r["pp_tok_s"], r.get("gen_tok_s")] for r in tu["rows"]])
    section("llama_tuning", body)

    em = res.get("embeddings", {})
    body = []
    if em:
        b = em["backends"]
        hr = em["hit_rate"]
        body = [f"{em['chunks']} passages of {em['chunk_words']} words of the corpus, embedded by each backend in "
                f"{em['rounds']} interleaved round(s) (median); query time over the questions. ONNX: "
                f"{em['onnx_quantization']}, one text per run"
                f"{'' if em['onnx_was_cached'] else ' (exported in this run)'}. Hit rate: share of the "
                f"{em['graded_questions']} answerable questions whose expected answer text is in the top {em['hit_rate_k']} "
                "passages retrieved (dense + BM25).", ""]
        body += _table(["", "PyTorch (before)", "ONNX int8 (after)"], [
            ["chunks/s", b["torch"]["chunks_per_s"], b["onnx"]["chunks_per_s"]],
            ["query ms, median", b["torch"]["query_ms_median"], b["onnx"]["query_ms_median"]],
            ["query ms, p95", b["torch"]["query_ms_p95"], b["onnx"]["query_ms_p95"]],
            ["model load s", b["torch"]["load_s"], b["onnx"]["load_s"]],
            ["retrieval hit rate", _fmt(hr["torch_index_torch_queries"], 3), _fmt(hr["onnx_index_onnx_queries"], 3)],
        ])
        body += ["", f"Speed-up {em['speedup']}×. Cosine of ONNX to PyTorch vectors: passages mean "
                 f"{em['cosine_chunks_mean']} (min {em['cosine_chunks_min']}), questions mean {em['cosine_questions_mean']} "
                 f"(min {em['cosine_questions_min']}). A PyTorch-built index searched with ONNX query vectors: hit rate "
                 f"{_fmt(hr['torch_index_onnx_queries'], 3)}. Default backend in this run: {em['default_backend']}."]
    section("embeddings", body)

    ix = res.get("indexing", {})
    body = []
    if ix:
        f, a, u = ix["full"], ix["add_one"], ix["unchanged"]
        body = [f"A synthetic corpus of {ix['documents']:,} documents of {ix['words_per_document']:,} words (sentences drawn "
                f"from the corpus vocabulary) = {ix['chunks']:,} chunks; each build is `build_index` in a fresh process "
                f"with the {st['embed_backend']} embedder (its load time is listed apart).", ""]
        body += _table(["build", "seconds", "chunks embedded", "chunks/s", "embedder load s", "peak RSS MB"], [
            ["full", f["build_s"], f["chunks_embedded"], ix["chunks_per_s"], f["load_s"], f["peak_rss_mb"]],
            ["one document added", a["build_s"], a["chunks_embedded"], None, a["load_s"], a["peak_rss_mb"]],
            ["nothing changed", u["build_s"], u["chunks_embedded"], None, u["load_s"], u["peak_rss_mb"]]])
    section("indexing", body)

    body = []
    if res.get("formats"):
        head, rows = formats_report(res)
        body = head + _table(["kind", "documents", "chunks", "documents/s", "chunks/s"], rows)
    section("formats", body)

    rt = res.get("retrieval", {})
    body = []
    if rt:
        body = [f"Synthetic unit vectors of {rt['dim']} dimensions with the structure of sentence embeddings (a "
                f"{rt['latent_dims']}-dimensional Gaussian latent plus noise); queries from the same distribution. "
                f"`FaissStore` chooses exact search up to {rt['exact_max']:,} vectors, IVF beyond. Retrieval = the real query "
                "embedding + vector search + rank fusion of the candidates (BM25 over synthetic vectors is not "
                "included). Recall@10 against exact search; 'exact' is IndexFlatIP on the same vectors (before).", ""]
        body += _table(["vectors", "index", "lists / probes", "build s", "exact search ms p50 / p95",
                        "search ms p50 / p95", "retrieval ms p50 / p95", "recall@10", "index MB", "bench peak RSS MB"],
                       [[r["vectors"], r["index"], f"{_fmt(r['nlist'])} / {_fmt(r['nprobe'])}" if r["nlist"] else "–",
                         r["build_s"], f"{_fmt(r['exact_search_ms_median'])} / {_fmt(r['exact_search_ms_p95'])}",
                         f"{_fmt(r['search_ms_median'])} / {_fmt(r['search_ms_p95'])}",
                         f"{_fmt(r['retrieval_ms_median'])} / {_fmt(r['retrieval_ms_p95'])}", _fmt(r["recall_at_10"], 3),
                         r["index_mb"], r["peak_rss_mb"]] for r in rt["rows"]])
    section("retrieval", body)

    ch = res.get("chat", {})
    body = []
    if ch:
        body = ["`rag ui` started as a new process on a free port (index already built): time until the page answers "
                "HTTP 200, then the first and a second answer through the `/ask` API (the first waits for the models "
                "to finish loading in the background), then the process's peak RSS (VmHWM).", ""]
        body += _table(["", "value"], [
            ["cold start to HTTP 200", f"{_fmt(ch['ready_s'], 2)} s"],
            ["first answer after HTTP 200", f"{_fmt(ch['first_answer_s'], 2)} s"],
            ["start to first answer", f"{_fmt(ch['first_answer_after_start_s'], 2)} s"],
            ["next answer", f"{_fmt(ch['next_answer_s'], 2)} s"],
            ["peak RSS of the chat process", f"{_fmt(ch['peak_rss_mb'])} MB"]])
    section("chat", body)
    from .bench_api import report_lines

    section("api", report_lines(res["api"], _fmt, _table) if res.get("api") else [])
    from .bench_speed import builds_report_lines, report_lines as cold_lines

    section("cold", cold_lines(res["cold"]) if res.get("cold") else [])
    if res.get("builds") or "builds" in res.get("errors", {}):
        section("builds", builds_report_lines(res["builds"]) if res.get("builds") else [])
    path = out / "BENCHMARKS.md"
    path.write_text("\n".join(str(x) for x in L).rstrip() + "\n", encoding="utf-8")
    return path


def write_chart(res: dict, out: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 2, figsize=(13, 9.5))
    m, st = res["machine"], res["settings"]
    ax = axes[0][0]
    s = res.get("stages", {}).get("stages")
    if s:
        labels = [v["label"] for v in s.values()][::-1]
        med = [v["median_ms"] or 0 for v in s.values()][::-1]
        hi = [v["p95_ms"] or 0 for v in s.values()][::-1]
        y = np.arange(len(labels))
        ax.barh(y, hi, color="#c7d2fe", label="p95")
        ax.barh(y, med, color="#4f46e5", label="median")
        ax.set_yticks(y, labels)
        ax.set_xscale("symlog", linthresh=1)
        ax.set_xlabel("ms per answer (log scale)")
        ax.legend(loc="lower right")
    ax.set_title("Answer stages (warm)")
    ax = axes[0][1]
    em = res.get("embeddings", {}).get("backends")
    llm = res.get("llm", {})
    bars, vals, colors = [], [], []
    if em:
        bars += ["embed\nPyTorch", "embed\nONNX int8"]
        vals += [em["torch"]["chunks_per_s"], em["onnx"]["chunks_per_s"]]
        colors += ["#94a3b8", "#4f46e5"]
    if llm:
        bars += ["generate\npipeline", "generate\nllama.cpp"]
        vals += [llm.get("pipeline_gen_tok_s") or 0, llm.get("direct_gen_tok_s") or 0]
        colors += ["#4f46e5", "#94a3b8"]
    if bars:
        ax.bar(bars, vals, color=colors)
        for i, v in enumerate(vals):
            ax.text(i, v, f"{v:.1f}", ha="center", va="bottom")
    ax.set_ylabel("chunks/s (embed) · tokens/s (generate)")
    ax.set_title("Throughput")
    ax = axes[1][0]
    rt = res.get("retrieval", {}).get("rows")
    if rt:
        n = [r["vectors"] for r in rt]
        ax.plot(n, [max(r["exact_search_ms_p95"] or 0, 1e-3) for r in rt], "o--", color="#94a3b8", label="exact search p95 (before)")
        ax.plot(n, [r["search_ms_p95"] for r in rt], "o-", color="#4f46e5", label="chosen index search p95")
        ax.plot(n, [r["retrieval_ms_p95"] for r in rt], "s-", color="#0f766e", label="embed+search+fusion p95")
        for r in rt:
            ax.annotate(f"{r['index'].replace('faiss-', '')}\nrecall {r['recall_at_10']:.3f}", (r["vectors"], r["search_ms_p95"]),
                        textcoords="offset points", xytext=(4, 8), fontsize=8)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("vectors")
        ax.set_ylabel("ms")
        ax.legend(fontsize=8)
    ax.set_title("Retrieval latency by corpus size")
    ax = axes[1][1]
    tu = res.get("llama_tuning", {}).get("rows")
    if tu:
        for threads in sorted({r["threads"] for r in tu}):
            rows = [r for r in tu if r["threads"] == threads]
            ax.plot([r["n_batch"] for r in rows], [r["pp_tok_s"] for r in rows], "o-", label=f"{threads} thread(s)")
        ax.set_xscale("log", base=2)
        ax.set_xlabel("n_batch")
        ax.set_ylabel("prompt tokens/s")
        ax.legend()
    ax.set_title("llama.cpp prompt processing")
    fig.suptitle(f"rag benchmarks — `{res['command']}` — {m['date']}", fontsize=12)
    fig.text(0.01, 0.005, f"{m['cpu']}, {m['cores']} cores ({', '.join(m['flags'][-4:])}); load {m['load_start'][0]}→"
             f"{m.get('load_end', ['?'])[0]}; model {st['model']}, embeddings {st['embed_backend']}, threads "
             f"{st['threads']}; {'quick sizes' if res['quick'] else 'full sizes'}", fontsize=8)
    fig.tight_layout(rect=(0, 0.02, 1, 0.96))
    (out / "docs").mkdir(parents=True, exist_ok=True)
    path = out / "docs" / "bench.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
