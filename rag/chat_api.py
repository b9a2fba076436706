"""The OpenAI chat-completions shape of our answers, and the conversation read back from it.

A reply's ``content`` is the verified answer with its ``[n]`` markers, then a short "Sources" list
(one line per citation: file, page, and the verbatim quote) so that any chat client shows where the
answer comes from. The same citations travel as data in the extra field ``citations`` (on the
message, and on the last chunk of a stream), with ``rag`` holding the rest of our Answer
(abstained, warnings, timings, index version).

Earlier turns of the conversation become the ``history`` a follow-up question is searched with
(``rag.followup``): every user message with the assistant reply after it, whose Sources list gives
back the quotes. System messages are not passed to the model: our own instructions stay ours, and
document text never goes into a system message.
"""
from __future__ import annotations

import re
import time
import uuid
from dataclasses import dataclass, field

from .answer import Answer
from .errors import ConfigError

SOURCES_HEADING = "Sources:"
CLOSEST_HEADING = "Closest passages (none answers the question):"
_SOURCE_LINE = re.compile(r"^\[(\d+)\] .*? — “(.*)”$", re.M)
MAX_QUOTE_CHARS = 300


@dataclass
class Conversation:
    question: str
    history: list[dict] = field(default_factory=list)   # earlier turns: question, answer, citations


def message_text(content) -> str:
    """The text of a message's ``content``: a string, or a list of parts of which the text ones count."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for part in content:
            if isinstance(part, dict) and part.get("type") == "text" and isinstance(part.get("text"), str):
                parts.append(part["text"])
            elif isinstance(part, str):
                parts.append(part)
        return "\n".join(parts)
    raise ConfigError("a message's content must be text or a list of text parts")


def conversation(messages: list[dict]) -> Conversation:
    """The last user message is the question; the user/assistant turns before it are the history."""
    if not messages:
        raise ConfigError("messages is empty; send at least one user message")
    turns: list[dict] = []
    question = None
    for i, m in enumerate(messages):
        role = m.get("role") if isinstance(m, dict) else None
        if role not in ("system", "developer", "user", "assistant", "tool", "function"):
            raise ConfigError(f"message {i} has no valid role")
        text = message_text(m.get("content"))
        if role == "user":
            if question is not None:
                turns.append({"question": question})
            question = text
        elif role == "assistant" and question is not None:
            turns.append({"question": question, "answer": answer_part(text),
                          "citations": [{"quote": q} for _, q in _SOURCE_LINE.findall(text)]})
            question = None
    if question is None or not question.strip():
        raise ConfigError("the last message must be a user message with the question")
    return Conversation(question, turns)


def answer_part(content: str) -> str:
    """The answer of a reply's content, without its Sources list."""
    for heading in (SOURCES_HEADING, CLOSEST_HEADING):
        cut = content.find("\n\n" + heading)
        if cut >= 0:
            return content[:cut]
    return content


def sources_text(answer: Answer) -> str:
    """The Sources list appended to the content (empty when nothing is cited)."""
    if not answer.citations:
        return ""
    lines = ["", "", CLOSEST_HEADING if answer.abstained else SOURCES_HEADING]
    for c in answer.citations:
        quote = " ".join(c.quote.split())
        if len(quote) > MAX_QUOTE_CHARS:
            quote = quote[:MAX_QUOTE_CHARS].rsplit(" ", 1)[0] + " …"
        page = f", page {c.page}" if c.page else ""
        lines.append(f"[{c.n}] {c.source}{page} [{c.start}:{c.end}] — “{quote}”")
    return "\n".join(lines)


def content(answer: Answer) -> str:
    return answer.answer + sources_text(answer)


def citations(answer: Answer) -> list[dict]:
    return [c.to_dict() for c in answer.citations]


def extra(answer: Answer) -> dict:
    return {"abstained": answer.abstained, "warnings": answer.warnings, "timings": answer.timings,
            "index_version": answer.index_version, "retrieval_query": answer.retrieval_query}


def usage(answer: Answer) -> dict:
    prompt = int(answer.timings.get("prompt_tokens") or 0)
    completion = int(answer.timings.get("completion_tokens") or 0)
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def new_id() -> str:
    return "chatcmpl-" + uuid.uuid4().hex[:24]


def completion(answer: Answer, model: str) -> dict:
    """A whole ``chat.completion`` object."""
    return {
        "id": new_id(), "object": "chat.completion", "created": int(time.time()), "model": model,
        "choices": [{"index": 0, "finish_reason": "stop", "logprobs": None,
                     "message": {"role": "assistant", "content": content(answer), "refusal": None,
                                 "citations": citations(answer)}}],
        "usage": usage(answer), "citations": citations(answer), "rag": extra(answer),
    }


def chunk(cid: str, model: str, delta: dict, finish: str | None = None, **more) -> dict:
    """One ``chat.completion.chunk`` of a stream."""
    return {"id": cid, "object": "chat.completion.chunk", "created": int(time.time()), "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}], **more}


def pieces(text: str) -> list[str]:
    """The verified content cut into word-sized pieces for streaming."""
    return re.findall(r"\S+\s*|\s+", text)
