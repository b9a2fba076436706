"""HTML for the chat window: chat messages and passage cards.

Everything shown comes from the model or from the user's documents, so every piece of text is
HTML-escaped here and nothing is rendered as Markdown: a document or an answer cannot load a
remote image, run a script or restyle the page. The only markup is the one written below.
"""
from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Iterable

from rag.answer import Answer, Citation
from rag.documents import UnreadableDocument, read_source

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


def card_id(turn: int, n: int) -> str:
    """The element id of source card ``n`` of answer number ``turn`` (the target of its ``[n]`` links)."""
    return f"rag-src-{int(turn)}-{int(n)}"


def link_citations(escaped: str, turn: int | None) -> str:
    """``[n]`` markers of already escaped text as links to their source cards (plain marks without a turn)."""
    if turn is None:
        return _CITE_MARK.sub(r'<span class="rag-cite">[\1]</span>', escaped)
    return _CITE_MARK.sub(lambda m: f'<a class="rag-cite" href="#{card_id(turn, int(m.group(1)))}" '
                                    f'title="show source {m.group(1)}">[{m.group(1)}]</a>', escaped)


def answer_message(answer: Answer, turn: int | None = None, details: bool = False) -> str:
    if answer.abstained:
        body = ('<div class="rag-abstain"><span class="rag-abstain-label">Not in the documents</span>'
                f'{esc(answer.answer)}</div>'
                '<div class="rag-meta">The closest passages are shown beside the chat; '
                "none of them answers the question.</div>")
    else:
        text = link_citations(esc(answer.answer), turn)
        body = f'<div class="rag-answer">{text}</div>' + _answer_meta(answer, details)
    if details:
        body += details_html(answer)
    return body + warnings_html(answer.warnings)


def _answer_meta(answer: Answer, details: bool = False) -> str:
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


_TIMING_LABELS = (("retrieve_s", "retrieval"), ("first_token_s", "first token"), ("generate_s", "writing"),
                  ("verify_s", "checking"), ("total_s", "total"))


def details_html(answer: Answer) -> str:
    """Retrieval details: what was searched for and where the time went."""
    rows = []
    rq = getattr(answer, "retrieval_query", "") or ""
    if rq and rq != answer.question:
        rows.append(f"<div><b>Searched for</b> {esc(rq)}</div>")
    times = [f"{label} {answer.timings[k]:.2f} s" for k, label in _TIMING_LABELS
             if isinstance(answer.timings.get(k), (int, float))]
    if times:
        rows.append(f"<div><b>Time</b> {esc(' · '.join(times))}</div>")
    tokens = [f"{answer.timings[k]} {label}" for k, label in (("prompt_tokens", "prompt tokens"),
                                                              ("completion_tokens", "answer tokens"))
              if isinstance(answer.timings.get(k), int)]
    if tokens:
        rows.append(f"<div><b>Tokens</b> {esc(' · '.join(tokens))}</div>")
    if answer.index_version:
        rows.append(f"<div><b>Index</b> {esc(answer.index_version)}</div>")
    return f'<div class="rag-details">{"".join(rows)}</div>' if rows else ""


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


def sources_panel(citations: list[Citation], kind: str, question: str, seeds_dir: Path, *,
                  turn: int | None = None, retrieval_query: str = "", details: bool = False) -> str:
    title, note = _HEADINGS[kind]
    if not citations:
        note = "No passage of the documents matches this question."
    cards = "".join(citation_card(c, seeds_dir, kind, None if turn is None else card_id(turn, c.n))
                    for c in citations)
    searched = ""
    if retrieval_query and retrieval_query != question:
        searched = (f'<div class="rag-sources-query" title="{esc(retrieval_query)}">'
                    f'{"searched with " + esc(retrieval_query) if details else "follow-up: searched with the conversation"}'
                    "</div>")
    return (f'<div class="rag-sources rag-{kind}">'
            f'<div class="rag-sources-title">{esc(title)}</div>'
            f'<div class="rag-sources-for">for “{esc(question)}”</div>{searched}'
            f'<p class="rag-sources-note">{esc(note)}</p>{cards}</div>')


def citation_card(c: Citation, seeds_dir: Path, kind: str = CITED, anchor: str | None = None) -> str:
    where = c.location or (f"page {c.page}" if c.page else "")
    page = f'<span class="rag-page" title="{esc(where)}">{esc(where)}</span>' if where else ""
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
    ident = f' id="{esc(anchor)}"' if anchor else ""
    return f'<div class="rag-card rag-card-{kind}"{ident}>{head}{body}{also}</div>'


def passage_context(seeds_dir: Path, c: Citation, width: int = CONTEXT_CHARS) -> tuple[str, str, str] | None:
    """(text before, quote, text after) from the cited file, or None if the file no longer holds the
    quote at its offsets (changed or deleted since indexing) or lies outside the corpus folder."""
    root = Path(seeds_dir).resolve()
    if not (root / c.source).resolve().is_relative_to(root):
        return None
    try:
        text = read_source(root, c.source)
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


# ---------------------------------------------------------------------------- export

def _md_text(text: str) -> str:
    """Text placed in Markdown as text: no HTML, no images or links it could turn into."""
    return (str(text).replace("\\", "\\\\").replace("<", "&lt;").replace(">", "&gt;")
            .replace("![", "!\\[").replace("](", "]\\("))


def export_markdown(turns: list[dict], title: str = "Ask your documents") -> str:
    """The conversation as Markdown: each question, its answer with [n] markers, and its sources
    with the verbatim quotes (``turns`` are ``Answer.to_dict()`` results)."""
    lines = [f"# {title}: conversation", "", f"Exported {time.strftime('%Y-%m-%d %H:%M')}.", ""]
    for i, t in enumerate(turns, 1):
        lines += [f"## {i}. {_md_text(t.get('question', ''))}", ""]
        if t.get("error"):
            lines += [f"*Error: {_md_text(t['error'])}*", ""]
            continue
        answer = _md_text(t.get("answer", ""))
        lines += [f"*{answer}*" if t.get("abstained") else answer, ""]
        cites = t.get("citations") or []
        if cites:
            lines += ["Closest passages (none answers the question):" if t.get("abstained") else "Sources:", ""]
        for c in cites:
            page = f", {c['location']}" if c.get("location") else f", page {c['page']}" if c.get("page") else ""
            where = f"`{c.get('source', '')}`{page}, characters {c.get('start')}–{c.get('end')}"
            lines.append(f"[{c.get('n')}] {where}, score {float(c.get('score', 0.0)):.2f}")
            lines.append(f"> {_md_text(' '.join(str(c.get('quote', '')).split()))}")
            lines.append("")
    return "\n".join(lines).rstrip() + "\n"


# ---------------------------------------------------------------------------- documents and status

def _when(stamp: str) -> str:
    """'2026-11-22T00:12:05+0000' shown as '2026-11-22 00:12'."""
    return stamp[:16].replace("T", " ") if stamp else "never"


def status_html(status: dict) -> str:
    if status.get("error"):
        return f'<div class="rag-status-box rag-error">⚠ {esc(_sentence_case(status["error"]))}</div>'
    items = [("Documents", f"{status['documents']:,}"), ("Passages", f"{status['chunks']:,}"),
             ("Last built", _when(status.get("built_at", ""))), ("Embedding model", status["embedding_model"]),
             ("Language model", status["llm"])]
    cells = "".join(f'<div class="rag-stat"><div class="rag-stat-k">{esc(k)}</div>'
                    f'<div class="rag-stat-v">{esc(v)}</div></div>' for k, v in items)
    note = ""
    if not status.get("version"):
        note = '<p class="rag-sources-note">No index yet: it is built with the first question or “Re-index”.</p>'
    elif status.get("skipped"):
        note = f'<p class="rag-sources-note">{status["skipped"]} file(s) in the folder could not be read and were skipped.</p>'
    return f'<div class="rag-status-box"><div class="rag-stats">{cells}</div>{note}</div>'


def _size(n: int) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:,} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


def documents_html(docs: list[dict], seeds_dir: Path) -> str:
    head = f'<div class="rag-docs-for">Folder <code>{esc(seeds_dir)}</code></div>'
    if not docs:
        return head + '<p class="rag-sources-note">No documents yet. Add text, Markdown, HTML, PDF, Word, spreadsheet, CSV, slide, e-book or e-mail files.</p>'
    rows = "".join(f'<tr><td class="rag-doc-name">{esc(d["source"])}</td><td>{esc(_size(d["bytes"]))}</td>'
                   f'<td>{esc(time.strftime("%Y-%m-%d %H:%M", time.localtime(d["modified"])))}</td></tr>'
                   for d in docs)
    return (head + '<table class="rag-docs"><thead><tr><th>Document</th><th>Size</th><th>Modified</th></tr>'
            f"</thead><tbody>{rows}</tbody></table>")


def notice(messages: list[str], errors: list[str]) -> str:
    """The result of adding or deleting documents: what happened, and each problem on its own line."""
    ok = "".join(f'<li class="rag-ok">{esc(_sentence_case(m))}</li>' for m in messages)
    bad = "".join(f'<li class="rag-error">⚠ {esc(_sentence_case(e))}</li>' for e in errors)
    return f'<ul class="rag-notice">{ok}{bad}</ul>' if ok or bad else ""


# ---------------------------------------------------------------------------- earlier answers' sources

def citation_from_dict(d: dict) -> Citation:
    return Citation(n=int(d.get("n", 0)), source=str(d.get("source", "")), chunk_id=str(d.get("chunk_id", "")),
                    start=int(d.get("start", 0)), end=int(d.get("end", 0)), quote=str(d.get("quote", "")),
                    score=float(d.get("score", 0.0)), page=d.get("page"), also=list(d.get("also") or []),
                    location=str(d.get("location") or ""))


def earlier_sources(turns: list[dict], seeds_dir: Path) -> str:
    """The sources of the conversation's earlier answers, folded, newest first, so that the [n]
    links of every answer in the chat have a card to go to."""
    parts = []
    for turn in range(len(turns), 0, -1):
        t = turns[turn - 1]
        cites = [citation_from_dict(c) for c in t.get("citations") or []]
        if not cites:
            continue
        kind = CLOSEST if t.get("abstained") else CITED
        cards = "".join(citation_card(c, seeds_dir, kind, card_id(turn, c.n)) for c in cites)
        parts.append(f'<details class="rag-earlier rag-{kind}"><summary>{turn}. {esc(t.get("question", ""))}</summary>'
                     f"{cards}</details>")
    if not parts:
        return ""
    return '<div class="rag-earlier-title">Earlier answers</div>' + "".join(parts)
