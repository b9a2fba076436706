"""The `rag` command: parse, call the library, print. Library errors become one-line messages."""
from __future__ import annotations

import argparse
import json
from pathlib import Path
import os
import sys
import unicodedata

from .config import Settings
from .errors import RagError


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--seeds", metavar="DIR", help="corpus folder (default: seeds/, or $RAG_SEEDS_DIR)")
    p.add_argument("--index", metavar="DIR", help="index folder (default: index/, or $RAG_INDEX_DIR)")
    p.add_argument("--model", metavar="NAME_OR_PATH",
                   help="LLM: a known name (qwen2.5-coder-0.5b, qwen2.5-coder-1.5b) or a .gguf path (or $RAG_MODEL)")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rag", description="Ask questions about your documents, offline.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("index", help="build or update the index for the corpus")
    _common(p)
    p.add_argument("--dry-run", action="store_true", help="only report what would be added, changed and removed")

    p = sub.add_parser("watch", help="keep the index up to date: rebuild when files in the corpus change")
    _common(p)
    p.add_argument("--debounce", type=float, default=2.0, metavar="SECONDS",
                   help="wait until the folder has been quiet this long before rebuilding (default 2)")

    p = sub.add_parser("ask", help="answer a question from the documents")
    _common(p)
    p.add_argument("question", help="the question")
    p.add_argument("--json", action="store_true", help="print exactly one JSON object (the Answer)")
    p.add_argument("-k", "--top-k", type=int, help="number of passages given to the model")
    p.add_argument("--only", action="append", metavar="PATH_OR_GLOB",
                   help="answer only from these documents: a path relative to the corpus, a folder or a glob "
                        "pattern such as 'reports/*.pdf' (repeat for several)")

    p = sub.add_parser("ui", help="serve the chat window")
    _common(p)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=7860)
    p.add_argument("--auth", metavar="USER:PASSWORD", help="require a login (or set $RAG_AUTH)")
    p.add_argument("--watch", action="store_true",
                   help="also keep the index up to date while serving, as `rag watch` does")

    p = sub.add_parser("serve", help="serve the HTTP API (OpenAI-compatible chat, ask, search, documents, index)")
    _common(p)
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this computer only)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    p.add_argument("--token", help="require this bearer token (or set $RAG_API_TOKEN); needed beyond 127.0.0.1")

    p = sub.add_parser("mcp", help="serve the documents to MCP clients (stdio, or streamable HTTP)")
    _common(p)
    p.add_argument("--transport", choices=["stdio", "http"], default="stdio",
                   help="stdio (default: the MCP client starts this command) or streamable HTTP")
    p.add_argument("--host", default="127.0.0.1", help="address for --transport http (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8001, help="port for --transport http (default 8001)")
    p.add_argument("--token", help="require this bearer token over HTTP (or set $RAG_API_TOKEN)")

    p = sub.add_parser("eval", help="answer every question of a QA file and print the metrics")
    _common(p)
    p.add_argument("qa_file", metavar="QA.jsonl")
    p.add_argument("--json", metavar="FILE", dest="json_out", help="write all metrics and per-question rows here")
    p.add_argument("--limit", type=int, help="only the first N questions")

    p = sub.add_parser("claims", help="the claim-check benchmark: how many true and false claims the verifier rejects")
    _common(p)
    p.add_argument("cases", nargs="*", metavar="CASES.jsonl",
                   help="labelled cases (default: tests/fixtures/claims.jsonl, written for it)")
    p.add_argument("--from-eval", nargs=2, action="append", metavar=("QA.jsonl", "CORPUS"), default=[],
                   help="also derive cases from a QA file and its corpus (use the dev half of a set)")
    p.add_argument("--read", nargs="?", const="", metavar="LABELS.jsonl", help="relabel derived true sentences as read by hand (default file: "
                   "tests/fixtures/claims_read.jsonl): one that does not state the answer counts as false")
    p.add_argument("--no-model", action="store_true", help="text checks only, without the model's check")
    p.add_argument("--json", metavar="FILE", help="also write every case and its verdict to FILE")

    p = sub.add_parser("bench", help="run the benchmarks and write their report")
    _common(p)
    p.add_argument("--quick", action="store_true", help="tiny sizes (a smoke test)")
    p.add_argument("--out", metavar="DIR", default="bench-out",
                   help="folder for BENCHMARKS.md, docs/bench.png and bench.json (default: bench-out/; "
                        "`--out .` replaces the published report)")
    p.add_argument("--questions", metavar="QA.jsonl",
                   help="questions for the answer benchmarks (default: tests/fixtures/seed_questions.jsonl)")
    p.add_argument("--index-chunks", type=int, metavar="N", help="chunks in the synthetic indexing corpus (default 10000)")
    p.add_argument("--vector-sizes", metavar="N,N,…", help="vector counts for retrieval at scale "
                                                          "(default 10000,100000,1000000)")
    p.add_argument("--rounds", type=int, metavar="N", help="passes over the questions for answer timings (default 3)")
    p.add_argument("--llama-build", action="append", metavar="PYTHON",
                   help="also answer with the llama-cpp-python build of this Python environment (for example "
                        "an AVX2-only build in another venv: .venv-avx2/bin/python) and report the builds side by "
                        "side (repeat for several; or $RAG_BENCH_LLAMA_BUILDS, separated by ':')")

    p = sub.add_parser("models", help="list or fetch the known models")
    p.add_argument("action", choices=["list", "fetch"])
    p.add_argument("name", nargs="?", default="default")
    p.add_argument("--models-dir", metavar="DIR")
    return parser


def _settings(args) -> Settings:
    return Settings.from_env(seeds_dir=getattr(args, "seeds", None), index_dir=getattr(args, "index", None),
                             model=getattr(args, "model", None), top_k=getattr(args, "top_k", None),
                             models_dir=getattr(args, "models_dir", None))


def cmd_index(args) -> int:
    from .pipeline import build_index

    report = build_index(_settings(args), dry_run=args.dry_run, show_progress=True)
    print(report.summary())
    return 0


def cmd_watch(args) -> int:
    import time

    from .pipeline import build_index
    from .watch import Watcher

    settings = _settings(args)

    def report(r) -> None:
        print(r.summary(), flush=True)
        print(f"watching {settings.seeds_dir} for changes (Ctrl+C to stop)", flush=True)

    def error(exc: Exception) -> None:
        print(f"rag: error: {exc}", file=sys.stderr, flush=True)

    watcher = Watcher(settings, debounce_s=args.debounce, build=lambda: build_index(settings, show_progress=True),
                      on_report=report, on_error=error).start()
    try:
        while True:
            time.sleep(3600)
    finally:
        watcher.stop()


class DraftLine:
    """The model's unverified draft, shown while it is written as one marked line on a terminal and
    erased when the verified answer is ready. It never wraps (so erasing one line erases all of it)
    and shows no control characters (a document could make the model write terminal escapes)."""

    LABEL = "draft (unverified): "

    def __init__(self, stream):
        self.stream = stream
        self.text = ""
        try:
            self.width = os.get_terminal_size(stream.fileno()).columns or 80
        except (AttributeError, OSError, ValueError):
            self.width = 80

    def add(self, piece: str) -> None:
        self.text += piece
        shown = "".join(" " if ch.isspace() else ch for ch in self.text
                        if ch.isspace() or unicodedata.category(ch)[0] != "C")
        room = self.width - 1 - len(self.LABEL)
        if room < 10:               # too narrow to show anything useful
            return
        tail, used = [], 0
        for ch in reversed(" ".join(shown.split())):       # the end of the draft: what was just written
            used += 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1
            if used > room:
                break
            tail.append(ch)
        self.stream.write("\r\033[K" + self.LABEL + "".join(reversed(tail)))
        self.stream.flush()

    def clear(self) -> None:
        if self.text:
            self.stream.write("\r\033[K")
            self.stream.flush()


def cmd_ask(args) -> int:
    from .answer import Answer
    from .client import ask

    settings = _settings(args)
    warm = ask(settings, args.question, args.only)    # a running `rag serve` for this index, if any
    if warm is not None:
        url, result = warm
        print(f"rag: answered by the running `rag serve` at {url}", file=sys.stderr)
        if args.json:
            print(json.dumps(result.to_dict(), ensure_ascii=False))
            return 0
        return _print_answer(result)
    from .pipeline import get_engine

    engine = get_engine(settings)
    if args.json:
        print(json.dumps(engine.answer(args.question, sources=args.only).to_dict(), ensure_ascii=False))
        return 0
    # Only the verified answer goes to stdout; the draft is progress, shown on a terminal only.
    draft = DraftLine(sys.stderr) if sys.stderr.isatty() else None
    result = None
    try:
        for event in engine.stream(args.question, sources=args.only):
            if isinstance(event, str):
                if draft is not None:
                    draft.add(event)
            elif isinstance(event, Answer):
                result = event
    finally:
        if draft is not None:
            draft.clear()
    assert result is not None
    return _print_answer(result)


def _print_answer(result) -> int:
    print("Answer:", result.answer)
    label = "Closest passages (none answers the question):" if result.abstained else "Sources:"
    if result.citations:
        print("\n" + label)
    for c in result.citations:
        page = f", {c.location}" if c.location else f", page {c.page}" if c.page else ""
        also = f" (also in {', '.join(a['source'] for a in c.also)})" if c.also else ""
        print(f"[{c.n}] {c.source}{page} [{c.start}:{c.end}]{also}\n    “{c.quote}”")
    for w in result.warnings:
        print(f"note: {w}", file=sys.stderr)
    return 0


def cmd_ui(args) -> int:
    from ui.app import serve

    auth = args.auth or os.environ.get("RAG_AUTH")
    settings = _settings(args)
    watcher = None
    if args.watch:
        from .watch import Watcher

        # The window reads the index as it is; changes found later are indexed in the background.
        watcher = Watcher(settings, on_error=lambda exc: print(f"rag: error: {exc}", file=sys.stderr)).start()
    try:
        serve(settings, host=args.host, port=args.port, auth=auth)
    finally:
        if watcher is not None:
            watcher.stop()
    return 0


def cmd_serve(args) -> int:
    from .server import serve

    serve(_settings(args), host=args.host, port=args.port, token=args.token or os.environ.get("RAG_API_TOKEN"))
    return 0


def cmd_mcp(args) -> int:
    from .mcp_server import serve

    serve(_settings(args), transport=args.transport, host=args.host, port=args.port,
          token=args.token or os.environ.get("RAG_API_TOKEN"))
    return 0


def cmd_eval(args) -> int:
    from .evaluate import run_eval

    return run_eval(_settings(args), args.qa_file, json_out=args.json_out, limit=args.limit)


def cmd_bench(args) -> int:
    from .bench import run_bench
    from .errors import ConfigError

    sizes = None
    if args.vector_sizes:
        try:
            sizes = [int(x.replace("_", "")) for x in args.vector_sizes.split(",") if x.strip()]
        except ValueError:
            raise ConfigError(f"--vector-sizes takes whole numbers separated by commas, not {args.vector_sizes!r}") from None
    command = "rag " + " ".join(sys.argv[1:]) if sys.argv[1:2] == ["bench"] else None
    return run_bench(_settings(args), quick=args.quick, out=args.out, questions=args.questions,
                     index_chunks=args.index_chunks, vector_sizes=sizes, rounds=args.rounds, command=command,
                     llama_builds=args.llama_build or [p for p in os.environ.get("RAG_BENCH_LLAMA_BUILDS", "").split(":") if p])


def cmd_claims(args) -> int:
    from . import bench_claims
    from .errors import ConfigError

    cases = []
    for path in args.cases or ([] if args.from_eval else [bench_claims.WRITTEN]):
        if not Path(path).is_file():
            raise ConfigError(f"no case file {path}")
        cases += bench_claims.load(Path(path))
    for qa, corpus in args.from_eval:
        if not Path(qa).is_file() or not Path(corpus).is_dir():
            raise ConfigError(f"--from-eval needs a QA file and a corpus folder, not {qa} {corpus}")
        cases += bench_claims.derive(Path(qa), Path(corpus))
    if args.read is not None:
        labels = Path(args.read) if args.read else bench_claims.READ
        if not labels.is_file():
            raise ConfigError(f"no label file {labels}")
        cases = bench_claims.read(cases, labels)
    generator = None
    if not args.no_model:
        from .pipeline import shared_generator

        generator = shared_generator(_settings(args))
    result = bench_claims.run(cases, generator)
    for key in ("cases", "false_rejected", "true_rejected", "false_rejected_by_support_check",
                "true_rejected_by_support_check", "false_rejected_by_shape", "true_rejected_by_shape"):
        print(f"{key:32} {result[key]}")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1, ensure_ascii=False), encoding="utf-8")
    return 0


def cmd_models(args) -> int:
    from . import models

    settings = _settings(args)
    if args.action == "list":
        for spec in models.KNOWN_MODELS.values():
            path = settings.models_dir / spec.filename
            state = "present" if path.is_file() else "not fetched"
            print(f"{spec.name:22} {spec.description} — {state}")
        return 0
    path = models.fetch(args.name, settings.models_dir)
    from . import convert

    spec = models.known_spec(args.name)
    made = convert.for_this_cpu(path, spec.sha256, settings.model_variant, log=print)
    if made != path:
        print(f"{spec.name}: this CPU runs the {made.name.rsplit('.', 2)[-2].upper()} copy {made}")
    return 0


COMMANDS = {"index": cmd_index, "watch": cmd_watch, "ask": cmd_ask, "ui": cmd_ui, "serve": cmd_serve,
            "mcp": cmd_mcp, "eval": cmd_eval, "claims": cmd_claims, "bench": cmd_bench, "models": cmd_models}


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    args = _parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except RagError as exc:
        print(f"rag: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("rag: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
