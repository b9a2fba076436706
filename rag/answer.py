"""The Answer and its Citations: what every caller gets back."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass
class Citation:
    n: int
    source: str
    chunk_id: str
    start: int
    end: int
    quote: str
    score: float
    page: int | None = None
    also: list[dict] = field(default_factory=list)   # the same fact in other files: source/start/end/quote
    location: str = ""      # where in the file, in words: "page 4", "Sheet1, row 12", "slide 3", "Setup › Linux"

    def to_dict(self) -> dict:
        d = asdict(self)
        if d["page"] is None:
            del d["page"]
        if not d["location"]:
            del d["location"]
        if not d["also"]:
            del d["also"]
        return d


@dataclass
class Answer:
    question: str
    answer: str
    abstained: bool
    citations: list[Citation]
    timings: dict
    warnings: list[str] = field(default_factory=list)
    model: str = ""
    index_version: str = ""
    draft: str = ""          # the model's raw text before verification
    retrieval_query: str = ""  # what the documents were searched with: the question, or it expanded by the conversation

    def to_dict(self) -> dict:
        return {
            "question": self.question,
            "answer": self.answer,
            "abstained": self.abstained,
            "citations": [c.to_dict() for c in self.citations],
            "timings": self.timings,
            "warnings": self.warnings,
            "model": self.model,
            "index_version": self.index_version,
            "draft": self.draft,
            "retrieval_query": self.retrieval_query,
        }

    def __repr__(self) -> str:
        kind = "abstained" if self.abstained else f"{len(self.citations)} citations"
        return f"Answer({self.answer[:60]!r}, {kind})"


@dataclass
class Sources:
    """Streamed first: the passages retrieved for the question, before the model starts."""
    question: str
    citations: list[Citation]
    retrieve_s: float
    retrieval_query: str = ""   # what the documents were searched with
