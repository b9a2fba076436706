"""`rag serve`: the library over HTTP, with an OpenAI-compatible chat endpoint (FastAPI + uvicorn).

    POST /v1/chat/completions   OpenAI chat completions, streaming (SSE) or not; citations in `citations`
    GET  /v1/models             what answers
    POST /v1/ask                the Answer JSON of `rag ask --json`
    POST /v1/search             retrieval only: passages with scores and locations
    GET/POST /v1/documents      list / upload documents; DELETE /v1/documents/{path} removes one
    GET/POST /v1/index          the index's status and a background rebuild's progress / start a rebuild
    GET  /health                alive, and which corpus, index and model it serves
    GET  /docs                  the OpenAPI description

Binds 127.0.0.1:8000 by default. A bearer token (``--token`` or ``RAG_API_TOKEN``) is required to
listen anywhere else; when set, every request needs ``Authorization: Bearer <token>``. Questions
wait in one bounded queue (``rag.admission``): a full queue answers 429 with Retry-After. Errors are
one-line JSON: ``{"error": {"message": …, "type": …, "code": <status>}}``. Document text appears only
as quoted data (answers, citations, passages), never as instructions to a model.
"""
from __future__ import annotations

import json
import logging
import os
import signal
import tempfile
import threading
import time
from pathlib import Path
from typing import Iterator

from fastapi import FastAPI, File, Query, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from starlette.exceptions import HTTPException

from . import chat_api, serve_record
from .admission import AdmissionQueue
from .answer import Answer, Sources
from .api_models import AskRequest, ChatRequest, SearchRequest
from .config import Settings
from .errors import RagError
from .http_common import (check_binding, check_port, error, foreign_browser_request, rag_error, token_ok,
                          unauthorized, validation_message)
from .index_job import IndexJob
from .passages import search

log = logging.getLogger(__name__)

DEFAULT_HOST, DEFAULT_PORT = "127.0.0.1", 8000
MAX_FILES_PER_UPLOAD = 10
KEEPALIVE_S = 1.0            # an SSE comment this often while the answer is being written and checked
FORM_OVERHEAD = 1024 * 1024  # what multipart framing may add to an upload's bytes


def _sse(obj) -> bytes:
    return f"data: {json.dumps(obj, ensure_ascii=False)}\n\n".encode("utf-8")


class Api:
    """The state behind the routes: settings, the engine, the queue and the rebuild job."""

    def __init__(self, settings: Settings, *, engine=None, token: str | None = None,
                 queue: AdmissionQueue | None = None):
        from .pipeline import get_engine

        self.settings = settings
        self.engine = engine if engine is not None else get_engine(settings)
        self.token = token or None
        self.queue = queue if queue is not None else AdmissionQueue()
        self.job = IndexJob(settings, self.engine)

    def model_name(self) -> str:
        try:
            return self.engine.generator.name
        except RagError:
            return self.settings.llm_model or self.settings.model

    # ------------------------------------------------------------------ answering

    def answer(self, question: str, history, sources) -> Answer:
        with self.queue.enter():
            return self.engine.answer(question, history=history, sources=sources)

    def start_stream(self, question: str, history, sources) -> Iterator[bytes]:
        """Wait for a turn and retrieve (so that a bad request fails before the stream starts),
        then give the stream of SSE lines: the verified answer only, never the unchecked draft."""
        ticket = self.queue.enter()
        try:
            ticket.wait()
            events = self.engine.stream(question, history=history, sources=sources)
            first = next(events)
            assert isinstance(first, Sources)
        except BaseException:
            ticket.leave()
            raise
        return self._stream(ticket, events)

    def _stream(self, ticket, events) -> Iterator[bytes]:
        cid, model = chat_api.new_id(), self.model_name()
        try:
            yield _sse(chat_api.chunk(cid, model, {"role": "assistant", "content": ""}))
            last = time.monotonic()
            answer = None
            for event in events:
                if isinstance(event, Answer):
                    answer = event
                elif time.monotonic() - last >= KEEPALIVE_S:
                    last = time.monotonic()
                    yield b": the answer is being written and checked\n\n"
            assert answer is not None
            for piece in chat_api.pieces(answer.answer) + [chat_api.sources_text(answer)]:
                if piece:
                    yield _sse(chat_api.chunk(cid, model, {"content": piece}))
            yield _sse(chat_api.chunk(cid, model, {}, "stop", citations=chat_api.citations(answer),
                                      rag=chat_api.extra(answer), usage=chat_api.usage(answer)))
        except RagError as exc:
            body = json.loads(rag_error(exc).body)
            yield _sse(body)
        except Exception:  # noqa: BLE001 - the stream has started: report in it
            log.exception("answering failed")
            yield _sse({"error": {"message": "answering failed unexpectedly; the details are in the server's log",
                                  "type": "server_error", "code": 500}})
        finally:
            events.close()
            ticket.leave()
        yield b"data: [DONE]\n\n"

    # ------------------------------------------------------------------ documents

    def upload(self, files: list[UploadFile], reindex: bool) -> tuple[int, dict]:
        from ui.corpus import UploadRejected, add_document, max_upload_bytes

        limit = max_upload_bytes()
        added, rejected = [], []
        with tempfile.TemporaryDirectory(prefix="rag-upload-") as tmp:
            for i, f in enumerate(files):
                name = f.filename or "document"
                path = Path(tmp) / f"upload-{i}"
                with open(path, "wb") as out:
                    size = _copy_limited(f.file, out, limit)
                if size > limit:
                    rejected.append({"name": name, "error": f"{Path(name).name}: too large (more than "
                                                            f"{limit / 1048576:g} MB, the limit)", "code": 413})
                    continue
                try:
                    a = add_document(self.settings.seeds_dir, path, name, max_bytes=limit)
                    added.append({"name": a.name, "note": a.note})
                except UploadRejected as exc:
                    rejected.append({"name": name, "error": str(exc), "code": 400})
        started = bool(added) and reindex and self.job.start()
        status = 201 if added else max((r["code"] for r in rejected), default=400)
        return status, {"added": added, "rejected": rejected, "reindex_started": started,
                        "index": self.job.status().to_dict()}


def _copy_limited(src, dst, limit: int) -> int:
    size = 0
    while True:
        block = src.read(1 << 20)
        if not block:
            return size
        size += len(block)
        if size > limit:
            return size
        dst.write(block)


def create_app(settings: Settings, *, engine=None, token: str | None = None,
               queue: AdmissionQueue | None = None) -> FastAPI:
    """The HTTP API for ``settings`` (``engine``: an Engine to use instead of the shared one)."""
    api = Api(settings, engine=engine, token=token, queue=queue)
    app = FastAPI(title="rag", version="1", description=__doc__.split("\n\n", 1)[0])
    app.state.api = api
    from ui.corpus import max_upload_bytes

    @app.middleware("http")
    async def guard(request: Request, call_next):
        if api.token and not token_ok(request.headers.get("authorization"), api.token):
            return unauthorized()
        if not api.token:
            why = foreign_browser_request(request.headers.get("host"), request.headers.get("origin"))
            if why:
                return error(403, why, "permission_error")
        if request.method == "POST" and request.url.path.rstrip("/") == "/v1/documents":
            length = request.headers.get("content-length")
            if length is None or not length.isdigit():
                return error(411, "an upload needs a Content-Length header")
            if int(length) > MAX_FILES_PER_UPLOAD * max_upload_bytes() + FORM_OVERHEAD:
                return error(413, f"the upload is too large (the limit is {max_upload_bytes() / 1048576:g} MB "
                                  f"per file, {MAX_FILES_PER_UPLOAD} files at a time)")
        return await call_next(request)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request, exc):
        return error(400, validation_message(exc))

    @app.exception_handler(HTTPException)
    async def _http(request, exc):
        return error(exc.status_code, exc.detail if isinstance(exc.detail, str) else "request failed",
                     headers=getattr(exc, "headers", None))

    @app.exception_handler(RagError)
    async def _rag(request, exc):
        return rag_error(exc)

    @app.exception_handler(Exception)
    async def _unexpected(request, exc):
        log.exception("request failed")
        return error(500, "the request failed unexpectedly; the details are in the server's log", "server_error")

    @app.get("/health", tags=["service"])
    def health():
        return {"status": "ok", **serve_record.identity(settings), "pid": os.getpid(),
                "queue": {"inside": api.queue.inside, "size": api.queue.size}}

    @app.get("/v1/models", tags=["openai"])
    def models():
        return {"object": "list", "data": [{"id": api.model_name(), "object": "model", "created": 0,
                                            "owned_by": "rag"}]}

    @app.post("/v1/chat/completions", tags=["openai"])
    def chat_completions(body: ChatRequest):
        """OpenAI chat completions. The content is the verified answer with [n] markers and a
        Sources list; `citations` (on the message, or the last chunk of a stream) gives each as data:
        n, source, page, start, end, quote, score. `sources` (an extension) scopes the question."""
        conv = chat_api.conversation([m.model_dump() for m in body.messages])
        if body.stream:
            return StreamingResponse(api.start_stream(conv.question, conv.history, body.sources),
                                     media_type="text/event-stream", headers={"Cache-Control": "no-cache"})
        return chat_api.completion(api.answer(conv.question, conv.history, body.sources), api.model_name())

    @app.post("/v1/ask", tags=["native"])
    def ask(body: AskRequest):
        """The Answer JSON of `rag ask --json`."""
        return api.answer(body.question, body.history, body.sources).to_dict()

    @app.post("/v1/search", tags=["native"])
    def search_passages(body: SearchRequest):
        """Retrieval only: the passages that best match the query, with scores and locations."""
        found = search(api.engine, body.query, body.k, body.sources)
        return {"query": body.query, "passages": [p.to_dict() for p in found]}

    @app.get("/v1/documents", tags=["documents"])
    def list_documents():
        from ui.corpus import documents

        return {"documents": documents(settings.seeds_dir)}

    @app.post("/v1/documents", status_code=201, tags=["documents"])
    def upload_documents(files: list[UploadFile] = File(..., description="one or more documents"),
                         reindex: bool = Query(True, description="rebuild the index afterwards")):
        """Upload .txt .md .html .pdf .docx files (each up to RAG_MAX_UPLOAD_MB, 20 MB by default)."""
        if len(files) > MAX_FILES_PER_UPLOAD:
            return error(413, f"at most {MAX_FILES_PER_UPLOAD} files at a time")
        status, result = api.upload(files, reindex)
        return JSONResponse(result, status)

    @app.delete("/v1/documents/{source:path}", tags=["documents"])
    def delete_document(source: str, reindex: bool = Query(True, description="rebuild the index afterwards")):
        from ui.corpus import delete_document as delete

        note = delete(settings.seeds_dir, source)
        started = reindex and api.job.start()
        return {"deleted": source, "note": note, "reindex_started": started, "index": api.job.status().to_dict()}

    @app.get("/v1/index", tags=["index"])
    def index_status():
        from ui.corpus import index_status as status

        return {"job": api.job.status().to_dict(), "index": status(settings, api.model_name())}

    @app.post("/v1/index", status_code=202, tags=["index"])
    def rebuild():
        """Rebuild the index in the background; GET /v1/index shows its progress."""
        started = api.job.start()
        return {"started": started, "job": api.job.status().to_dict()}

    return app


def serve(settings: Settings, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, token: str | None = None,
          *, engine=None, warm: bool = True) -> None:
    """Serve the API until interrupted (blocking)."""
    import uvicorn

    token = token or os.environ.get("RAG_API_TOKEN") or None
    check_binding(host, token)
    check_port(host, port)
    app = create_app(settings, engine=engine, token=token)
    if warm:
        threading.Thread(target=_warm_up, args=(app.state.api,), daemon=True).start()
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False))
    print(f"rag: serving {settings.seeds_dir} on http://{host}:{port} (OpenAPI at /docs)", flush=True)
    if threading.current_thread() is threading.main_thread():
        # uvicorn stops on SIGTERM, then raises it again: end as on Ctrl-C, so the record is removed.
        signal.signal(signal.SIGTERM, _exit_quietly)
    with serve_record.recorded(settings, host, port, token_required=bool(token), listening=lambda: server.started):
        server.run()


def _exit_quietly(signum, frame) -> None:
    raise SystemExit(0)


def _warm_up(api: Api) -> None:
    try:
        api.engine.warm_up()
    except RagError as exc:
        log.warning("warm-up failed: %s", exc)
    except Exception:  # noqa: BLE001
        log.exception("warm-up failed")


class Background:
    """A server on a thread of this process (tests, benchmarks); ``stop()`` ends it."""

    def __init__(self, app: FastAPI, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT):
        import uvicorn

        self.url = f"http://{host}:{port}"
        self.api: Api = app.state.api
        self.server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning",
                                                    access_log=False))
        self.thread = threading.Thread(target=self.server.run, name="rag-serve", daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the server on {self.url} did not start")
            time.sleep(0.02)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(30)

    def __enter__(self) -> "Background":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
