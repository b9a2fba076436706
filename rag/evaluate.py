"""`rag eval`: answer every question of a QA file and measure accuracy, retrieval, citations, abstention, time.

QA format (one JSON object a line): id, question, answers (list of requirements, each a list of
alternatives), sources (corpus-relative paths holding the answer), answerable (bool).
"""
from __future__ import annotations

import json
import statistics
import sys
from dataclasses import dataclass, field
from pathlib import Path

from .answer import Answer
from .config import Settings
from .documents import read_source
from .errors import ConfigError
from .records import json_lines
from .text import fold, names, numbers, strip_markers

K_VALUES = (1, 3, 5)


@dataclass
class QAItem:
    id: str
    question: str
    answers: list[list[str]]
    sources: list[str]
    answerable: bool
    reference_answer: str = ""


def load_qa(path: Path) -> list[QAItem]:
    return json_lines(path, "QA", lambda d: QAItem(str(d["id"]), d["question"], d.get("answers", []),
                                                   d.get("sources", []), bool(d.get("answerable", True)),
                                                   d.get("reference_answer", "")))


def meets(answer_text: str, requirements: list[list[str]]) -> bool:
    """Every requirement met by one of its alternatives, case-insensitively, spaces, accents and
    typographic dashes and quotes folded ('Cobham–Edmonds' meets 'Cobham-Edmonds')."""
    text = fold(answer_text)
    return all(any(fold(alt) in text for alt in req) for req in requirements)


def retrieval_ranks(ranked_sources: list[str], gold: list[str]) -> int | None:
    """1-based rank of the first gold source among the ranked (distinct) sources, or None."""
    for i, src in enumerate(ranked_sources, 1):
        if src in gold:
            return i
    return None


def citation_valid(citation, seeds_dir: Path, cache: dict) -> bool:
    if citation.source not in cache:
        try:
            cache[citation.source] = read_source(seeds_dir, citation.source)
        except Exception:  # noqa: BLE001 - an unreadable source means an invalid citation
            cache[citation.source] = None
    text = cache[citation.source]
    return text is not None and text[citation.start:citation.end] == citation.quote


def citation_supported(answer: Answer) -> bool:
    """The numbers and names the answer states all appear in the quotes it cites."""
    if answer.abstained or not answer.citations:
        return True
    quotes = " ".join(c.quote for c in answer.citations)
    claim = strip_markers(answer.answer)
    if claim.startswith("The documents say:"):
        return True
    fq = fold(quotes)
    missing_numbers = numbers(claim) - numbers(quotes)
    missing_names = {n for n in names(claim) if n not in fq}
    return not missing_numbers and not missing_names


def percentile(values: list[float], p: float) -> float | None:
    values = sorted(v for v in values if v is not None)
    if not values:
        return None
    idx = min(len(values) - 1, max(0, round(p / 100 * (len(values) - 1))))
    return values[idx]


@dataclass
class Row:
    id: str
    question: str
    answerable: bool
    answer: str
    abstained: bool
    correct: bool | None          # None when there is no short answer to check
    rank: int | None
    citations: int
    valid_citations: int
    supported: bool
    first_token_s: float | None
    total_s: float
    sources: list[str] = field(default_factory=list)
    error: str = ""
    draft: str = ""               # what the model wrote, before verification
    warnings: list[str] = field(default_factory=list)   # why a draft was changed, replaced or refused


def row_line(row: dict) -> str:
    """One line per question: verdict, id, answered or abstained, rank of the first gold source, answer."""
    mark = {True: "ok  ", False: "MISS", None: "    "}[row["correct"]]
    kind = "abstained" if row["abstained"] else "answered"
    if not row["answerable"]:
        mark = "ok  " if row["abstained"] else "MISS"
    if row["error"]:
        mark, kind = "ERR ", "failed"
    text = " ".join((row["error"] or row["answer"]).split())[:110]
    return f"{mark} {row['id']:>12} {kind:9} rank={row['rank']} {text}"


def evaluate(engine, items: list[QAItem], seeds_dir: Path, progress: bool = True, report: bool = False) -> dict:
    """Answer every item; with ``report``, print each question's line as soon as it is answered."""
    from tqdm import tqdm

    rows: list[Row] = []
    cache: dict = {}
    for item in tqdm(items, desc="eval", unit="q", disable=not progress, file=sys.stderr):
        sources_seen: list[str] = []
        answer = None
        try:
            for event in engine.stream(item.question):
                if hasattr(event, "citations") and not isinstance(event, Answer):
                    for c in event.citations:
                        for src in [c.source] + [a["source"] for a in c.also]:
                            if src not in sources_seen:
                                sources_seen.append(src)
                elif isinstance(event, Answer):
                    answer = event
        except Exception as exc:  # noqa: BLE001 - one failing question must not stop the run
            rows.append(Row(item.id, item.question, item.answerable, "", False, False, None, 0, 0, False,
                            None, 0.0, error=f"{type(exc).__name__}: {exc}"))
            if report:
                tqdm.write(row_line(rows[-1].__dict__), file=sys.stdout)
            continue
        valid = sum(citation_valid(c, seeds_dir, cache) for c in answer.citations)
        correct = meets(answer.answer, item.answers) if (item.answerable and item.answers) else None
        if item.answerable and item.answers and answer.abstained:
            correct = False
        rows.append(Row(item.id, item.question, item.answerable, answer.answer, answer.abstained, correct,
                        retrieval_ranks(sources_seen, item.sources) if item.sources else None,
                        len(answer.citations), valid, citation_supported(answer),
                        answer.timings.get("first_token_s"), answer.timings.get("total_s", 0.0),
                        sources_seen, draft=getattr(answer, "draft", "") or "", warnings=list(answer.warnings)))
        if report:
            tqdm.write(row_line(rows[-1].__dict__), file=sys.stdout)
    return summarise(rows, items)


def summarise(rows: list[Row], items: list[QAItem]) -> dict:
    answerable = [r for r in rows if r.answerable]
    scored = [r for r in answerable if r.correct is not None]
    unanswerable = [r for r in rows if not r.answerable]
    with_sources = [r for r, it in zip(rows, items) if it.sources]
    abstained = [r for r in rows if r.abstained]
    answered = [r for r in rows if not r.abstained]
    cited = [r for r in answered if r.citations]
    m = {
        "questions": len(rows),
        "errors": sum(1 for r in rows if r.error),
        "accuracy": _ratio(sum(1 for r in scored if r.correct), len(scored)),
        "accuracy_n": f"{sum(1 for r in scored if r.correct)}/{len(scored)}",
        "answered_rate_answerable": _ratio(sum(1 for r in answerable if not r.abstained), len(answerable)),
        # an answer given that is not the expected one: worse than abstaining, which accuracy does not show
        "answered_wrong_n": f"{sum(1 for r in scored if not r.abstained and not r.correct)}/{len(scored)}",
        "citation_validity": _ratio(sum(r.valid_citations for r in rows), sum(r.citations for r in rows)),
        "citation_support": _ratio(sum(1 for r in cited if r.supported), len(cited)),
        "abstention_precision": _ratio(sum(1 for r in abstained if not r.answerable), len(abstained)),
        "abstention_recall": _ratio(sum(1 for r in unanswerable if r.abstained), len(unanswerable)),
        "first_token_s_median": _median([r.first_token_s for r in rows]),
        "first_token_s_p95": percentile([r.first_token_s for r in rows], 95),
        "total_s_median": _median([r.total_s for r in rows]),
        "total_s_p95": percentile([r.total_s for r in rows], 95),
    }
    for k in K_VALUES:
        hits = [r for r in with_sources if r.rank is not None and r.rank <= k]
        m[f"hit@{k}"] = _ratio(len(hits), len(with_sources))
        m[f"mrr@{k}"] = (round(sum(1.0 / r.rank for r in hits) / len(with_sources), 4) if with_sources else None)
    return {"metrics": m, "rows": [r.__dict__ for r in rows]}


def _ratio(a: int, b: int) -> float | None:
    return round(a / b, 4) if b else None


def _median(values) -> float | None:
    values = [v for v in values if v is not None]
    return round(statistics.median(values), 4) if values else None


def run_eval(settings: Settings, qa_file: str, *, json_out: str | None = None, limit: int | None = None) -> int:
    from .pipeline import get_engine

    items = load_qa(Path(qa_file))
    if limit:
        items = items[:limit]
    if not items:
        raise ConfigError(f"{qa_file} holds no questions")
    engine = get_engine(settings)
    engine.retriever()  # build or load the index before timing starts
    result = evaluate(engine, items, settings.seeds_dir, report=True)
    result["settings"] = {"qa_file": str(qa_file), "seeds_dir": str(settings.seeds_dir), "model": settings.model,
                          "top_k": settings.top_k}
    print()
    for k, v in result["metrics"].items():
        print(f"{k:28} {v}")
    if json_out:
        Path(json_out).write_text(json.dumps(result, indent=1, ensure_ascii=False))
    return 0
