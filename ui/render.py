"""HTML for the chat window: chat messages and passage cards.

Everything shown comes from the model or from the user's documents, so every piece of text is
HTML-escaped here and nothing is rendered as Markdown: a document or an answer cannot load a
remote image, run a script or restyle the page. The only markup is the one written below.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Iterable

from rag.answer import Answer, Citation
from rag.documents import UnreadableDocument, read_text

CONTEXT_CHARS = 300          # characters of surrounding text shown on each side of a quote

_CITE_MARK = re.compile(r"\[(\d+)\]")
_BLANK_LINES = re.compile(r"[ \t]*\n[ \t]*(?:\n[ \t]*)+")
# html.escape plus the characters that templating (gr.HTML's `${...}` / `{{...}}`) could read.
_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#x27;",
                          "$": "&#36;", "{": "&#123;", "}": "&#125;", "`": "&#96;"})


def esc(text: object) -> str:
    """Text made safe to place anywhere in HTML (content or a quoted attribute)."""
    return str(text).translate(_ESCAPES)


def _sentence_case(message: str) -> str:
    message = message.strip()
    return message[:1].upper() + message[1:]


# ---------------------------------------------------------------------------- chat messages

def user_message(question: str) -> str:
    return f'<div class="rag-question">{esc(question)}</div>'


def status_message(text: str) -> str:
    return f'<div class="rag-status">{esc(text)}</div>'


def draft_message(draft: str) -> str:
    """The model's raw text while it streams, before it is checked against the passages."""
    return ('<div class="rag-draft-label">Draft: will be checked against the passages</div>'
            f'<div class="rag-draft">{esc(draft.strip()) or "…"}</div>')


def error_message(message: str) -> str:
    return f'<div class="rag-error">⚠ {esc(_sentence_case(message))}</div>'


def answer_message(answer: Answer) -> str:
    if answer.abstained:
        body = (f'<div class="rag-abstain">{esc(answer.answer)}</div>'
                '<div class="rag-meta">The closest passages are shown beside the chat; '
                "none of them answers the question.</div>")
    else:
        text = _CITE_MARK.sub(r'<span class="rag-cite">[\1]</span>', esc(answer.answer))
        body = f'<div class="rag-answer">{text}</div>' + _answer_meta(answer)
    return body + warnings_html(answer.warnings)


def _answer_meta(answer: Answer) -> str:
    parts = []
    n = len(answer.citations)
    if n:
        parts.append(f"{n} source{'s' if n != 1 else ''}")
    total = answer.timings.get("total_s")
    if isinstance(total, (int, float)):
        parts.append(f"{total:.1f} s")
    if answer.model:
        parts.append(answer.model)
    return f'<div class="rag-meta">{esc(" · ".join(parts))}</div>' if parts else ""


def warnings_html(warnings: Iterable[str]) -> str:
    items = "".join(f"<li>{esc(_sentence_case(w))}</li>" for w in warnings if w.strip())
    return f'<ul class="rag-warnings">{items}</ul>' if items else ""


# ---------------------------------------------------------------------------- passage cards

# What the panel beside the chat is showing, and how it is titled.
RETRIEVED = "retrieved"     # found for the question, the answer is still being written
CITED = "cited"             # the final answer's sources
CLOSEST = "closest"         # the answer abstained: the nearest passages, which do not answer it

_HEADINGS = {
    RETRIEVED: ("Passages found", "The answer is being written from these passages."),
    CITED: ("Sources", "Each quote is highlighted in its document."),
    CLOSEST: ("Closest passages", "These are the nearest matches; none of them answers the question."),
}


def sources_placeholder() -> str:
    return ('<div class="rag-sources rag-empty">'
            '<div class="rag-sources-title">Sources</div>'
            '<p>The passages an answer is based on appear here, each quote highlighted in its document.</p>'
            "</div>")


def sources_panel(citations: list[Citation], kind: str, question: str, seeds_dir: Path) -> str:
    title, note = _HEADINGS[kind]
    if not citations:
        note = "No passage of the documents matches this question."
    cards = "".join(citation_card(c, seeds_dir, kind) for c in citations)
    return (f'<div class="rag-sources rag-{kind}">'
            f'<div class="rag-sources-title">{esc(title)}</div>'
            f'<div class="rag-sources-for">for “{esc(question)}”</div>'
            f'<p class="rag-sources-note">{esc(note)}</p>{cards}</div>')


def citation_card(c: Citation, seeds_dir: Path, kind: str = CITED) -> str:
    page = f'<span class="rag-page">page {c.page}</span>' if c.page else ""
    head = (f'<div class="rag-card-head"><span class="rag-n">{c.n}</span>'
            f'<span class="rag-file" title="{esc(c.source)}">{esc(c.source)}</span>{page}'
            f'<span class="rag-score" title="retrieval score">score {c.score:.2f}</span></div>')
    ctx = passage_context(seeds_dir, c)
    if ctx is None:
        body = (f'<div class="rag-context"><mark>{esc(c.quote)}</mark></div>'
                '<div class="rag-card-note">The file has changed or is gone since it was indexed; '
                "only the indexed quote is shown.</div>")
    else:
        before, quote, after = ctx
        body = f'<div class="rag-context">{esc(before)}<mark>{esc(quote)}</mark>{esc(after)}</div>'
    also = ""
    if c.also:
        names = ", ".join(esc(a.get("source", "?")) for a in c.also)
        also = f'<div class="rag-card-note">The same passage is also in: {names}</div>'
    return f'<div class="rag-card rag-card-{kind}">{head}{body}{also}</div>'


def passage_context(seeds_dir: Path, c: Citation, width: int = CONTEXT_CHARS) -> tuple[str, str, str] | None:
    """(text before, quote, text after) from the cited file, or None if the file no longer holds the
    quote at its offsets (changed or deleted since indexing) or lies outside the corpus folder."""
    root = Path(seeds_dir).resolve()
    path = (root / c.source).resolve()
    if not path.is_relative_to(root):
        return None
    try:
        text = read_text(path)
    except (UnreadableDocument, OSError):
        return None
    if not (0 <= c.start <= c.end <= len(text)) or text[c.start:c.end] != c.quote:
        return None
    a, b = _window(text, c.start, c.end, width)
    before = ("…" if a > 0 else "") + _tidy(text[a:c.start])
    after = _tidy(text[c.end:b]) + ("…" if b < len(text) else "")
    return before, text[c.start:c.end], after


def _window(text: str, start: int, end: int, width: int) -> tuple[int, int]:
    """About ``width`` characters each side of [start, end), cut at spaces rather than inside words."""
    a = max(0, start - width)
    if a > 0:
        space = text.find(" ", a, start)
        a = space + 1 if space != -1 else a
    b = min(len(text), end + width)
    if b < len(text):
        space = text.rfind(" ", end, b)
        b = space if space != -1 else b
    return a, b


def _tidy(text: str) -> str:
    """Runs of blank lines shown as one paragraph break."""
    return _BLANK_LINES.sub("\n\n", text)
