"""The chat window: a Gradio app over the ``rag`` library.

The app does no retrieval or prompting of its own. It passes the question to ``Engine.stream`` and
shows what comes back: the passages as soon as they are found, the model's draft as it is written,
then the verified answer with its sources. ``/ask`` gives the same answer to API clients as JSON.

    rag ui                       # http://127.0.0.1:7860
    rag ui --auth me:secret      # require a login
"""
from __future__ import annotations

import logging
import os
import threading
from typing import Iterator

import gradio as gr

from rag.answer import Answer, Sources
from rag.config import Settings
from rag.documents import scan
from rag.errors import ConfigError, RagError
from rag.pipeline import build_index, get_engine

from . import render

log = logging.getLogger(__name__)

TITLE = "Ask your documents"
INTRO = ("Answers come only from the documents in your folder, and every sentence of an answer points "
         "to the passage it is taken from. Everything runs on this computer.")
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
#rag-header h1 { font-size: 1.55rem; font-weight: 600; margin: 0.2rem 0 0.25rem; }
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
#rag-sources { max-height: max(440px, calc(100vh - 230px)); overflow-y: auto; padding-right: 4px; }
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
#rag-index-report textarea { font-family: var(--font-mono); font-size: 0.8em; }
"""


class ChatHandlers:
    """What the window's events do. Each one only calls the library and renders what comes back."""

    def __init__(self, settings: Settings, engine=None):
        self.settings = settings
        self.engine = engine if engine is not None else get_engine(settings)

    def respond(self, question: str, history: list[dict] | None) -> Iterator[tuple]:
        """Chat event: yields (textbox value, chat messages, sources panel) as the answer comes in.

        The passages are shown as soon as retrieval is done, the draft while the model writes it,
        then the verified answer replaces the draft.
        """
        history = list(history or [])
        shown = " ".join((question or "").split())
        if shown:
            history.append({"role": "user", "content": render.user_message(shown)})

        def chat(reply_html: str) -> list[dict]:
            return [*history, {"role": "assistant", "content": reply_html}]

        yield "", chat(render.status_message("Searching the documents…")), gr.skip()
        seeds = self.settings.seeds_dir
        draft = ""
        try:
            for event in self.engine.stream(question or ""):
                if isinstance(event, Sources):
                    n = len(event.citations)
                    status = (f"Found {n} passage{'s' if n != 1 else ''}; writing the answer…" if n
                              else "No passage matches the question.")
                    panel = render.sources_panel(event.citations, render.RETRIEVED, event.question, seeds)
                    yield gr.skip(), chat(render.status_message(status)), panel
                elif isinstance(event, str):
                    draft += event
                    yield gr.skip(), chat(render.draft_message(draft)), gr.skip()
                elif isinstance(event, Answer):
                    kind = render.CLOSEST if event.abstained else render.CITED
                    panel = render.sources_panel(event.citations, kind, event.question, seeds)
                    yield gr.skip(), chat(render.answer_message(event)), panel
        except RagError as exc:
            yield gr.skip(), chat(render.error_message(str(exc))), gr.skip()
        except Exception:
            log.exception("answering %r failed", shown)
            yield gr.skip(), chat(render.error_message(UNEXPECTED)), gr.skip()

    def ask(self, question: str) -> dict:
        """Answer a question from the documents. Returns the verified Answer as a JSON object:
        answer (text with [n] markers), abstained, citations (n, source, start, end, quote, score,
        page), timings, warnings, model, index_version."""
        try:
            return self.engine.answer(question).to_dict()
        except RagError as exc:
            raise gr.Error(str(exc), print_exception=False) from None

    def rebuild(self, progress=gr.Progress()) -> str:
        """Re-index the corpus folder; returns the build report."""
        def report(done: int, total: int) -> None:
            progress((done, total), desc="Embedding passages", unit="passages")

        progress(0, desc="Reading the documents")
        try:
            return build_index(self.settings, progress=report).summary()
        except RagError as exc:
            return f"error: {exc}"

    @staticmethod
    def sources_cleared() -> str:
        """The chat's own clear button was pressed: empty the passages panel too."""
        return render.sources_placeholder()


def build_app(settings: Settings, *, engine=None) -> gr.Blocks:
    """The chat window for the corpus and index named in ``settings``, with its queue.

    ``engine`` replaces ``get_engine(settings)`` (tests pass a fake one).
    """
    h = ChatHandlers(settings, engine)

    with gr.Blocks(title=TITLE, analytics_enabled=False, fill_width=True) as demo:
        gr.HTML(f"<h1>{render.esc(TITLE)}</h1><p>{render.esc(INTRO)}</p>", elem_id="rag-header")
        with gr.Row(equal_height=False):
            with gr.Column(scale=3, min_width=420):
                chat = gr.Chatbot(
                    show_label=False, height=CHAT_HEIGHT, layout="bubble",
                    render_markdown=False, sanitize_html=True, latex_delimiters=[], allow_tags=False,
                    buttons=[], feedback_options=None, autoscroll=True,
                    placeholder=PLACEHOLDER,
                )
                question = gr.Textbox(
                    show_label=False, placeholder="Ask a question about your documents…",
                    lines=1, max_lines=6, submit_btn="Ask", autofocus=True,
                )
            with gr.Column(scale=2, min_width=320):
                sources = gr.HTML(render.sources_placeholder(), elem_id="rag-sources", js_on_load=None)

        with gr.Accordion("Documents and index", open=False):
            gr.Markdown(_folder_info(settings))
            with gr.Row():
                reindex = gr.Button("Re-index the documents", size="sm", scale=0, min_width=200)
            index_report = gr.Textbox(show_label=False, lines=3, max_lines=12, interactive=False,
                                      placeholder="Re-index after adding, changing or removing files.",
                                      elem_id="rag-index-report")

        question.submit(h.respond, [question, chat], [question, chat, sources],
                        concurrency_id=LLM, api_visibility="private")
        chat.clear(h.sources_cleared, None, sources, queue=False, api_visibility="private")
        reindex.click(h.rebuild, None, index_report, concurrency_id=LLM, api_visibility="private")
        # One engine call at a time across the chat, the API and re-indexing: they share a group.
        gr.api(h.ask, api_name="ask", concurrency_id=LLM)

    demo.queue(default_concurrency_limit=1, max_size=QUEUE_SIZE)
    return demo


def _folder_info(settings: Settings) -> str:
    found, skipped = scan(settings.seeds_dir) if settings.seeds_dir.is_dir() else ([], [])
    n = len(found)
    line = f"**Folder:** `{settings.seeds_dir}` · {n} document{'s' if n != 1 else ''}"
    if skipped:
        line += f" ({len(skipped)} other file{'s' if len(skipped) != 1 else ''} skipped)"
    return line + f"  \n**Index:** `{settings.index_dir}`"


def parse_auth(auth: str | None) -> tuple[str, str] | None:
    """``"user:password"`` → ``("user", "password")``; None or "" → no login."""
    if not auth:
        return None
    user, sep, password = auth.partition(":")
    if not sep or not user or not password:
        raise ConfigError("--auth must look like USER:PASSWORD")
    return user, password


def serve(settings: Settings, host: str = "127.0.0.1", port: int = 7860, auth: str | None = None,
          *, prevent_thread_lock: bool = False, engine=None) -> gr.Blocks:
    """Serve the chat window on ``host:port`` (never through a public share link).

    With ``prevent_thread_lock`` the server runs in the background and the app is returned
    (``demo.close()`` stops it); otherwise this blocks until interrupted.
    """
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    credentials = parse_auth(auth)
    if credentials is None and host not in ("127.0.0.1", "localhost", "::1"):
        log.warning("serving on %s without --auth: anyone who can reach this address can ask questions", host)
    demo = build_app(settings, engine=engine)
    if engine is None:
        _warm_up(settings)
    demo.launch(
        server_name=host, server_port=port, auth=credentials, share=False, inbrowser=False,
        prevent_thread_lock=prevent_thread_lock, show_error=False, ssr_mode=False, mcp_server=False,
        footer_links=["api", "settings"], run_history=False, theme=THEME, css=CSS,
    )
    return demo


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
