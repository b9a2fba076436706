"""The chat window: a Gradio app over the ``rag`` library.

The app does no retrieval, indexing or prompting of its own. It passes the question (and the
conversation so far, for follow-up questions) to ``Engine.stream`` and shows what comes back: the
passages as soon as they are found, the model's draft as it is written, then the verified answer,
whose ``[n]`` markers link to its source cards. ``/ask`` gives the same answer to API clients as
JSON, ``/status`` the index's state.

Three tabs: Chat (chat on the left, sources on the right, New chat, Export as Markdown), Documents
(index status, the documents, upload, delete, re-index; ``ui.corpus`` checks every upload) and
Settings (model, number of passages, retrieval details).

Safe to serve: binds 127.0.0.1 unless told otherwise, optional login, no share link, only files
Gradio made itself (uploads, exports) can be downloaded, one engine call at a time through a
bounded queue, and everything shown from a document or the model is escaped text.

    rag ui                       # http://127.0.0.1:7860
    rag ui --auth me:secret      # require a login
"""
from __future__ import annotations

import logging
import os
import tempfile
import threading
import time
from pathlib import Path
from typing import Iterator

import gradio as gr

from rag.answer import Answer, Sources
from rag.config import Settings
from rag.errors import ConfigError, RagError
from rag import models
from rag.pipeline import build_index, get_engine

from . import corpus, render

log = logging.getLogger(__name__)

TITLE = "Ask your documents"
INTRO = ("Answers come only from your documents; every sentence points to the passage it is taken from. "
         "Everything runs on this computer.")
CHAT_HEIGHT = "max(360px, calc(100vh - 310px))"     # the page fits a laptop screen without scrolling
QUEUE_SIZE = 16              # questions waiting at most; one is answered at a time
LLM = "llm"                  # the concurrency group of every event that uses the models
PLACEHOLDER = ("<b style='font-weight:600'>Ask anything about your documents.</b><br>"
               "The answer streams in here; the passages it is based on appear beside it.")
UNEXPECTED = "Something went wrong while answering; the details are in the server's log."

# Fonts served by Gradio itself: the page loads nothing from outside this computer.
THEME = gr.themes.Default(
    primary_hue="indigo", neutral_hue="slate", radius_size="md",
    font=[gr.themes.LocalFont("IBM Plex Sans", weights=(400, 600)), "ui-sans-serif", "system-ui", "sans-serif"],
    font_mono=[gr.themes.LocalFont("IBM Plex Mono", weights=(400, 600)), "ui-monospace", "monospace"],
)

CSS = """
.gradio-container { width: 100% !important; max-width: 1320px !important; margin: 0 auto !important; }
#rag-header h1 { font-size: 1.45rem; font-weight: 600; margin: 0.1rem 0 0.15rem; }
#rag-header p { color: var(--body-text-color-subdued); margin: 0; max-width: 52rem; }

/* chat messages (our own markup; everything inside is escaped text) */
.rag-question, .rag-answer, .rag-draft { white-space: pre-wrap; line-height: 1.55; }
.rag-cite { font-size: 0.78em; font-weight: 600; color: var(--color-accent); vertical-align: super;
            margin-left: 1px; }
.rag-status { color: var(--body-text-color-subdued); font-style: italic; }
.rag-draft-label { font-size: 0.78em; text-transform: uppercase; letter-spacing: 0.04em;
                   color: var(--body-text-color-subdued); margin-bottom: 0.25rem; }
.rag-draft { color: var(--body-text-color-subdued); }
.rag-abstain { color: var(--body-text-color-subdued); font-style: italic; padding-left: 0.6rem;
               border-left: 3px solid var(--border-color-primary); }
.rag-error { color: var(--error-text-color, #b91c1c); }
.rag-meta { font-size: 0.78em; color: var(--body-text-color-subdued); margin-top: 0.45rem; }
.rag-warnings { font-size: 0.78em; color: var(--body-text-color-subdued); margin: 0.3rem 0 0;
                padding-left: 1.1rem; }

/* the passages panel */
#rag-sources { max-height: max(440px, calc(100vh - 200px)); overflow-y: auto !important; padding-right: 4px; }
.rag-sources-title { font-weight: 600; font-size: 1.05rem; }
.rag-sources-for { font-size: 0.85em; color: var(--body-text-color-subdued); overflow-wrap: anywhere; }
.rag-sources-note, .rag-empty p { font-size: 0.85em; color: var(--body-text-color-subdued);
                                  margin: 0.35rem 0 0.7rem; }
.rag-empty { padding: 0.2rem 0.2rem; }
.rag-card { border: 1px solid var(--border-color-primary); border-radius: var(--radius-md);
            padding: 0.6rem 0.75rem; margin-bottom: 0.6rem; background: var(--background-fill-primary); }
.rag-closest .rag-card { border-style: dashed; opacity: 0.9; }
.rag-card-head { display: flex; align-items: baseline; gap: 0.5rem; font-size: 0.85em; margin-bottom: 0.35rem; }
.rag-n { font-weight: 700; color: var(--color-accent); }
.rag-file { font-family: var(--font-mono); font-weight: 600; overflow: hidden; text-overflow: ellipsis;
            white-space: nowrap; min-width: 0; }
.rag-page { color: var(--body-text-color-subdued); white-space: nowrap; }
.rag-score { margin-left: auto; color: var(--body-text-color-subdued); white-space: nowrap; }
.rag-context { font-size: 0.88em; line-height: 1.5; white-space: pre-wrap; color: var(--body-text-color-subdued); }
.rag-context mark { background: #fde68a; color: #1f2937; padding: 0 1px; border-radius: 2px; }
.rag-closest .rag-context mark { background: var(--background-fill-secondary); color: inherit;
                                 text-decoration: underline dotted; }
.rag-card-note { font-size: 0.78em; color: var(--body-text-color-subdued); margin-top: 0.35rem; }
a.rag-cite { text-decoration: none; cursor: pointer; padding: 0 1px; border-radius: 3px; }
a.rag-cite:hover { background: var(--color-accent-soft); text-decoration: underline; }
.rag-card { scroll-margin-top: 8px; transition: box-shadow 0.3s, border-color 0.3s; }
.rag-card:target, .rag-card.rag-flash { border-color: var(--color-accent); box-shadow: 0 0 0 2px var(--color-accent-soft); }
.rag-abstain-label { display: block; font-style: normal; font-size: 0.75em; font-weight: 600; text-transform: uppercase;
                     letter-spacing: 0.05em; color: #b45309; margin-bottom: 0.15rem; }
.rag-abstain { border-left-color: #f59e0b; }
.rag-details { font-size: 0.78em; color: var(--body-text-color-subdued); margin-top: 0.4rem; padding: 0.35rem 0.5rem;
               background: var(--background-fill-secondary); border-radius: var(--radius-sm); overflow-wrap: anywhere; }
.rag-details b { font-weight: 600; margin-right: 0.3rem; }
.rag-earlier-title { font-weight: 600; font-size: 0.9rem; margin: 1rem 0 0.4rem; color: var(--body-text-color-subdued); }
details.rag-earlier { margin-bottom: 0.4rem; }
details.rag-earlier summary { cursor: pointer; font-size: 0.85em; color: var(--body-text-color-subdued);
                              overflow: hidden; text-overflow: ellipsis; white-space: nowrap; padding: 0.2rem 0; }
details.rag-earlier[open] summary { margin-bottom: 0.4rem; }
.rag-sources-query { font-size: 0.8em; color: var(--body-text-color-subdued); font-style: italic; overflow-wrap: anywhere; }
#rag-chat-actions { gap: 0.5rem; justify-content: flex-start; }
#rag-only .wrap-inner { position: relative; }
#rag-only .wrap-inner:not(:has(.token)):not(:focus-within)::before {
  content: "All documents, or choose some (files, folders, reports/*.pdf)"; position: absolute; left: 0.6rem;
  top: 50%; transform: translateY(-50%); color: var(--body-text-color-subdued); font-size: 0.85em; pointer-events: none; }
#rag-header { margin-bottom: 0.1rem; }
.rag-status-box { padding: 0.2rem 0; }
.rag-stats { display: grid; grid-template-columns: repeat(3, minmax(0, 1fr)); gap: 0.5rem; }
.rag-stat { border: 1px solid var(--border-color-primary); border-radius: var(--radius-md); padding: 0.45rem 0.7rem;
            background: var(--background-fill-primary); }
.rag-stat-k { font-size: 0.75em; text-transform: uppercase; letter-spacing: 0.04em; color: var(--body-text-color-subdued); }
.rag-stat-v { font-weight: 600; font-size: 0.92em; overflow-wrap: anywhere; }
.rag-docs-for { font-size: 0.85em; color: var(--body-text-color-subdued); margin: 0.8rem 0 0.3rem; overflow-wrap: anywhere; }
table.rag-docs { width: 100%; border-collapse: collapse; font-size: 0.9em; border: none !important; }
#rag-doc-list table, #rag-doc-list thead, #rag-doc-list tbody, #rag-doc-list tr, #rag-doc-list th,
#rag-doc-list td { border-left: 0 !important; border-right: 0 !important; border-top: 0 !important; }
#rag-doc-list th, #rag-doc-list td { border-bottom: 1px solid var(--border-color-primary) !important; }
table.rag-docs th { text-align: left; font-weight: 600; color: var(--body-text-color-subdued); font-size: 0.85em;
                    border-bottom: 1px solid var(--border-color-primary); padding: 0.3rem 0.4rem; }
table.rag-docs td { border-bottom: 1px solid var(--border-color-primary); padding: 0.35rem 0.4rem; white-space: nowrap; }
table.rag-docs td.rag-doc-name { font-family: var(--font-mono); white-space: normal; overflow-wrap: anywhere; }
ul.rag-notice { list-style: none; padding: 0; margin: 0.3rem 0; font-size: 0.9em; }
ul.rag-notice li { margin: 0.15rem 0; overflow-wrap: anywhere; }
.rag-ok { color: #15803d; }
#rag-settings { max-width: 46rem; }
"""

# Clicking a citation [n] in an answer scrolls its source card into view inside the passages panel
# and flashes it; the link target is a card id, so this works without the script too.
HEAD = """<script>
document.addEventListener("click", (ev) => {
  const a = ev.target.closest && ev.target.closest("a.rag-cite");
  if (!a) return;
  ev.preventDefault();
  ev.stopPropagation();
  const id = (a.getAttribute("href") || "").slice(1);
  const card = document.getElementById(id);
  if (!card) return;
  const folded = card.closest("details");
  if (folded) folded.open = true;
  card.scrollIntoView({behavior: "smooth", block: "nearest"});
  card.classList.add("rag-flash");
  setTimeout(() => card.classList.remove("rag-flash"), 1600);
}, true);
</script>"""


class ChatHandlers:
    """What the window's events do. Each one only calls the library and renders what comes back."""

    def __init__(self, settings: Settings, engine=None):
        self.settings = settings
        self._engine = engine
        self._export_dir: Path | None = None
        self._watcher = None

    # ------------------------------------------------------------------ the engine for the chosen options

    @property
    def engine(self):
        return self.engine_for(None, None)

    def engine_for(self, model: str | None, top_k) -> object:
        if self._engine is not None:
            return self._engine
        return get_engine(self.options(model, top_k))

    def options(self, model: str | None, top_k) -> Settings:
        model = (model or "").strip() or None
        k = int(top_k) if top_k else None
        if k is not None:
            k = max(1, min(k, self.settings.candidates))
        return self.settings.with_(model=model, top_k=k)

    # ------------------------------------------------------------------ chat

    def respond(self, question: str, history: list[dict] | None, turns: list[dict] | None = None,
                model: str | None = None, top_k=None, details: bool = False,
                only: list[str] | None = None) -> Iterator[tuple]:
        """Chat event: yields (textbox, chat messages, sources panel, turns, export button) as the
        answer comes in. The passages are shown as soon as retrieval is done, the draft while the
        model writes it, then the verified answer replaces the draft. ``only``: the documents
        (paths, folders or patterns) to answer from; all when empty."""
        history = list(history or [])
        turns = list(turns or [])
        shown = " ".join((question or "").split())
        if shown:
            history.append({"role": "user", "content": render.user_message(shown)})
        turn = len(turns) + 1

        def chat(reply_html: str) -> list[dict]:
            return [*history, {"role": "assistant", "content": reply_html}]

        yield "", chat(render.status_message("Searching the documents…")), gr.skip(), gr.skip(), gr.skip()
        seeds = self.settings.seeds_dir
        draft = ""
        try:
            engine = self.engine_for(model, top_k)
            for event in engine.stream(question or "", history=turns, sources=only or None):
                if isinstance(event, Sources):
                    n = len(event.citations)
                    status = (f"Found {n} passage{'s' if n != 1 else ''}; writing the answer…" if n
                              else "No passage matches the question.")
                    panel = render.sources_panel(event.citations, render.RETRIEVED, event.question, seeds, turn=turn,
                                                 retrieval_query=getattr(event, "retrieval_query", ""),
                                                 details=details) + render.earlier_sources(turns, seeds)
                    yield gr.skip(), chat(render.status_message(status)), panel, gr.skip(), gr.skip()
                elif isinstance(event, str):
                    draft += event
                    yield gr.skip(), chat(render.draft_message(draft)), gr.skip(), gr.skip(), gr.skip()
                elif isinstance(event, Answer):
                    kind = render.CLOSEST if event.abstained else render.CITED
                    panel = render.sources_panel(event.citations, kind, event.question, seeds, turn=turn,
                                                 retrieval_query=event.retrieval_query, details=details)
                    panel += render.earlier_sources(turns, seeds)
                    turns.append(event.to_dict())
                    yield (gr.skip(), chat(render.answer_message(event, turn=turn, details=details)), panel, turns,
                           self.export_button(turns))
        except RagError as exc:
            yield gr.skip(), chat(render.error_message(str(exc))), gr.skip(), gr.skip(), gr.skip()
        except Exception:
            log.exception("answering %r failed", shown)
            yield gr.skip(), chat(render.error_message(UNEXPECTED)), gr.skip(), gr.skip(), gr.skip()

    def new_chat(self) -> tuple:
        """Forget the conversation: empty chat, empty passages panel, nothing to export."""
        return [], render.sources_placeholder(), [], gr.DownloadButton(value=None, interactive=False), ""

    def export_button(self, turns: list[dict]):
        return gr.DownloadButton(value=self.export(turns), interactive=bool(turns))

    def export(self, turns: list[dict]) -> str | None:
        """Write the conversation as Markdown to a new file; returns its path."""
        if not turns:
            return None
        if self._export_dir is None or not self._export_dir.is_dir():
            self._export_dir = Path(tempfile.mkdtemp(prefix="rag-export-"))
        folder = Path(tempfile.mkdtemp(dir=self._export_dir))
        path = folder / f"conversation-{time.strftime('%Y%m%d-%H%M%S')}.md"
        path.write_text(render.export_markdown(turns, TITLE), encoding="utf-8")
        return str(path)

    def ask(self, question: str, history: list | None = None) -> dict:
        """Answer a question from the documents. Returns the verified Answer as a JSON object:
        answer (text with [n] markers), abstained, citations (n, source, start, end, quote, score,
        page), timings, warnings, model, index_version, retrieval_query. ``history``: the earlier
        answers of the conversation (as returned here) or the earlier questions, oldest first;
        a follow-up question is searched for with the conversation's terms."""
        try:
            return self.engine.answer(question, history=history or None).to_dict()
        except RagError as exc:
            raise gr.Error(str(exc), print_exception=False) from None

    # ------------------------------------------------------------------ documents and index

    def status(self) -> dict:
        """The live index: documents, chunks, built_at, version, embedding_model, llm."""
        return corpus.index_status(self.settings)

    def documents_view(self, model: str | None = None) -> tuple:
        """(index status, document list, delete choices) as shown in the Documents tab."""
        docs = corpus.documents(self.settings.seeds_dir)
        status = corpus.index_status(self.settings, llm=(model or "").strip() or self.settings.model)
        names = [d["source"] for d in docs if "part_of" not in d]     # an attachment goes with its e-mail
        return (render.status_html(status), render.documents_html(docs, self.settings.seeds_dir),
                gr.Dropdown(choices=names, value=None))

    def document_choices(self):
        """The documents the Chat tab's picker offers (what it holds already stays chosen)."""
        return gr.Dropdown(choices=[d["source"] for d in corpus.documents(self.settings.seeds_dir)])

    def _rebuild(self, progress) -> str:
        def report(done: int, total: int) -> None:
            progress((done, total), desc="Embedding passages", unit="passages")

        progress(0, desc="Reading the documents")
        return build_index(self.settings, progress=report).summary()

    def rebuild(self, model: str | None = None, progress=gr.Progress()) -> tuple:
        """Re-index the corpus folder; returns (notice, status, list, choices)."""
        try:
            summary = self._rebuild(progress)
            note = render.notice([summary.splitlines()[0] if summary else "index rebuilt"], [])
        except RagError as exc:
            note = render.notice([], [str(exc)])
        return (note, *self.documents_view(model))

    def watch_folder(self, on: bool) -> str:
        """Re-index by itself whenever files in the corpus folder change (as `rag watch` does)."""
        from rag.watch import Watcher

        if on and self._watcher is None:
            self._watcher = Watcher(self.settings, on_error=lambda exc: log.warning("re-indexing failed: %s", exc))
            self._watcher.start(build_first=False)
            return render.notice(["watching the folder: files added, changed or removed are indexed by themselves"],
                                 [])
        if not on and self._watcher is not None:
            self._watcher.stop()
            self._watcher = None
            return render.notice(["no longer watching the folder"], [])
        return ""

    def add_documents(self, files, model: str | None = None, progress=gr.Progress()) -> tuple:
        """Check and store uploaded files in the corpus folder, then re-index.
        Returns (notice, status, list, choices, cleared upload)."""
        done, problems = [], []
        paths = files if isinstance(files, list) else ([files] if files else [])
        progress(0, desc="Checking the files")
        for f in paths:
            path = Path(getattr(f, "name", None) or str(f))
            original = getattr(f, "orig_name", None) or path.name
            try:
                done.append(corpus.add_document(self.settings.seeds_dir, path, original).note)
            except RagError as exc:
                problems.append(str(exc))
        if any(note.startswith("added") for note in done):
            try:
                summary = self._rebuild(progress)
                done.append(summary.splitlines()[0])
            except RagError as exc:
                problems.append(str(exc))
        if not paths:
            problems.append("no file was uploaded")
        return (render.notice(done, problems), *self.documents_view(model), None)

    def delete_document(self, source: str | None, model: str | None = None, progress=gr.Progress()) -> tuple:
        """Delete one document from the corpus folder, then re-index."""
        done, problems = [], []
        try:
            done.append(corpus.delete_document(self.settings.seeds_dir, source or ""))
            done.append(self._rebuild(progress).splitlines()[0])
        except RagError as exc:
            problems.append(str(exc))
        return (render.notice(done, problems), *self.documents_view(model))

    # ------------------------------------------------------------------ settings

    def check_model(self, model: str | None) -> str:
        """Is the chosen model ready? A clear line either way (with the command that fetches it)."""
        name = (model or "").strip() or self.settings.model
        try:
            shown, path = models.resolve(name, self.settings.models_dir)
        except RagError as exc:
            msg = str(exc)
            spec = models.known_spec(name)
            if spec is not None and "fetch" not in msg:
                msg += f"; fetch it with `rag models fetch {spec.name}`"
            return f'<div class="rag-error">⚠ {render.esc(render._sentence_case(msg))}</div>'
        return (f'<div class="rag-ok">✓ {render.esc(shown)} is ready '
                f'<span class="rag-sources-note">({render.esc(path)})</span></div>')


MODEL_CHOICES = [("Qwen2.5-Coder 0.5B: fast (default)", "qwen2.5-coder-0.5b"),
                 ("Qwen2.5-Coder 1.5B: better, about 3× slower", "qwen2.5-coder-1.5b")]


def build_app(settings: Settings, *, engine=None, queue_size: int = QUEUE_SIZE) -> gr.Blocks:
    """The chat window for the corpus and index named in ``settings``, with its queue.

    ``engine`` replaces ``get_engine(settings)`` (tests pass a fake one).
    """
    h = ChatHandlers(settings, engine)

    with gr.Blocks(title=TITLE, analytics_enabled=False, fill_width=True) as demo:
        gr.HTML(f"<h1>{render.esc(TITLE)}</h1><p>{render.esc(INTRO)}</p>", elem_id="rag-header")
        turns = gr.State([])
        with gr.Tabs(elem_id="rag-tabs"):
            with gr.Tab("Chat", id="chat"):
                with gr.Row(equal_height=False):
                    with gr.Column(scale=3, min_width=420):
                        chat = gr.Chatbot(
                            show_label=False, height=CHAT_HEIGHT, layout="bubble", elem_id="rag-chat",
                            render_markdown=False, sanitize_html=True, latex_delimiters=[], allow_tags=False,
                            buttons=[], feedback_options=None, autoscroll=True,
                            placeholder=PLACEHOLDER,
                        )
                        question = gr.Textbox(
                            show_label=False, placeholder="Ask a question about your documents…",
                            lines=1, max_lines=6, submit_btn="Ask", autofocus=True, elem_id="rag-question",
                        )
                        with gr.Row(elem_id="rag-chat-actions"):
                            new_chat = gr.Button("New chat", size="sm", variant="secondary", scale=0,
                                                 min_width=110, elem_id="rag-new-chat")
                            export = gr.DownloadButton("Export as Markdown", value=None, size="sm",
                                                       variant="secondary", scale=0, min_width=170,
                                                       interactive=False, elem_id="rag-export")
                            only = gr.Dropdown(label="Only these documents", choices=[], value=[],
                                               multiselect=True, allow_custom_value=True, show_label=False,
                                               container=False, scale=1, min_width=220, elem_id="rag-only")
                    with gr.Column(scale=2, min_width=320):
                        sources = gr.HTML(render.sources_placeholder(), elem_id="rag-sources")
            with gr.Tab("Documents", id="documents"):
                with gr.Row(equal_height=False):
                    with gr.Column(scale=3, min_width=420):
                        status = gr.HTML(elem_id="rag-status")
                        doc_list = gr.HTML(elem_id="rag-doc-list")
                    with gr.Column(scale=2, min_width=320):
                        upload = gr.File(label=f"Add documents ({' '.join(corpus.UPLOAD_SUFFIXES)}, up to "
                                               f"{corpus.max_upload_bytes() / 1048576:g} MB each)",
                                         file_count="multiple", file_types=list(corpus.UPLOAD_SUFFIXES),
                                         height=140, elem_id="rag-upload")
                        with gr.Row():
                            to_delete = gr.Dropdown(label="Delete a document", choices=[], value=None,
                                                    scale=3, elem_id="rag-delete-choice")
                        with gr.Row():
                            delete = gr.Button("Delete and re-index", variant="stop", size="sm",
                                               elem_id="rag-delete")
                            reindex = gr.Button("Re-index the folder", size="sm", elem_id="rag-reindex")
                        watch = gr.Checkbox(label="Re-index by itself when files in the folder change", value=False,
                                            elem_id="rag-watch")
                        doc_notice = gr.HTML(elem_id="rag-doc-notice")
            with gr.Tab("Settings", id="settings"):
                with gr.Column(elem_id="rag-settings"):
                    model = gr.Dropdown(label="Language model", choices=MODEL_CHOICES, value=settings.model,
                                        allow_custom_value=True, elem_id="rag-model",
                                        info="A known model, or the path to any GGUF chat model on this computer.")
                    model_note = gr.HTML(elem_id="rag-model-note")
                    top_k = gr.Slider(label="Passages given to the model", minimum=1, maximum=8, step=1,
                                      value=settings.top_k, elem_id="rag-top-k",
                                      info="More passages can help with broad questions; fewer answer faster.")
                    details = gr.Checkbox(label="Show retrieval details (what was searched for, timings)",
                                          value=False, elem_id="rag-details")

        views = [status, doc_list, to_delete]
        question.submit(h.respond, [question, chat, turns, model, top_k, details, only],
                        [question, chat, sources, turns, export], concurrency_id=LLM, api_visibility="private")
        new_chat.click(h.new_chat, None, [chat, sources, turns, export, question], queue=False,
                       api_visibility="private")
        chat.clear(h.new_chat, None, [chat, sources, turns, export, question], queue=False, api_visibility="private")
        upload.upload(h.add_documents, [upload, model], [doc_notice, *views, upload], concurrency_id=LLM,
                      api_visibility="private").then(h.document_choices, None, only, queue=False,
                                                     api_visibility="private")
        delete.click(h.delete_document, [to_delete, model], [doc_notice, *views], concurrency_id=LLM,
                     api_visibility="private").then(h.document_choices, None, only, queue=False,
                                                    api_visibility="private")
        reindex.click(h.rebuild, [model], [doc_notice, *views], concurrency_id=LLM, api_visibility="private")
        demo.load(h.document_choices, None, only, queue=False, api_visibility="private")
        watch.change(h.watch_folder, watch, doc_notice, queue=False, api_visibility="private")
        model.change(h.check_model, model, model_note, api_visibility="private")
        model.change(h.documents_view, model, views, queue=False, api_visibility="private")
        demo.load(h.documents_view, model, views, queue=False, api_visibility="private")
        demo.load(h.check_model, model, model_note, api_visibility="private")
        # One engine call at a time across the chat, the API and re-indexing: they share a group.
        gr.api(h.ask, api_name="ask", concurrency_id=LLM)
        gr.api(h.status, api_name="status", queue=False)

    demo.queue(default_concurrency_limit=1, max_size=queue_size)
    return demo


def parse_auth(auth: str | None) -> tuple[str, str] | None:
    """``"user:password"`` → ``("user", "password")``; None or "" → no login."""
    if not auth:
        return None
    user, sep, password = auth.partition(":")
    if not sep or not user or not password:
        raise ConfigError("--auth must look like USER:PASSWORD")
    return user, password


def serve(settings: Settings, host: str = "127.0.0.1", port: int = 7860, auth: str | None = None,
          *, prevent_thread_lock: bool = False, engine=None, queue_size: int = QUEUE_SIZE) -> gr.Blocks:
    """Serve the chat window on ``host:port`` (never through a public share link).

    With ``prevent_thread_lock`` the server runs in the background and the app is returned
    (``demo.close()`` stops it); otherwise this blocks until interrupted.
    """
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    credentials = parse_auth(auth)
    max_upload = corpus.max_upload_bytes()
    if credentials is None and host not in ("127.0.0.1", "localhost", "::1"):
        log.warning("serving on %s without --auth: anyone who can reach this address can ask questions", host)
    demo = build_app(settings, engine=engine, queue_size=queue_size)
    if engine is None:
        _warm_up(settings)
    demo.launch(
        server_name=host, server_port=port, auth=credentials, share=False, inbrowser=False,
        prevent_thread_lock=prevent_thread_lock, show_error=False, ssr_mode=False, mcp_server=False,
        footer_links=["api", "settings"], run_history=False, theme=THEME, css=CSS, head=HEAD,
        # Gradio serves only files it made (uploads, exports) from its own cache; never the index,
        # the models or the corpus, whatever a file URL says.
        allowed_paths=[], blocked_paths=[str(p.resolve()) for p in blocked_folders(settings)],
        max_file_size=max_upload,
    )
    return demo


def blocked_folders(settings: Settings) -> list[Path]:
    return [Path(settings.index_dir), Path(settings.models_dir), Path(settings.seeds_dir)]


def _warm_up(settings: Settings) -> None:
    """Load the index and the models in the background so the first question is not the slow one."""
    def run() -> None:
        try:
            get_engine(settings).warm_up()
        except RagError as exc:
            log.warning("could not load everything ahead of the first question: %s", exc)
        except Exception:
            log.exception("warm-up failed")

    threading.Thread(target=run, name="rag-warm-up", daemon=True).start()
