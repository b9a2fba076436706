"""The claim-check benchmark: labelled (question, passage, claim, supported?) cases, and how many true
and false claims the verifier rejects.

Cases come from JSON-lines files (``tests/fixtures/claims.jsonl`` holds cases written for it, in
several fields), or are derived from a QA file and its corpus (``derive``): for each answerable row,
the sentence of a gold source that holds the answer is a true claim, and false ones are made from it
by moving the answer to another fact of the same kind nearby, by swapping its two names, and by
putting another name of the passage in place of a name the question gives. An answer is mostly
written in the question's words, not the passage's: for a question that asks who did something
('Who won the final?'), the answer put in the question's words ('Oakridge United won the final.') is a
true claim of the shape ``asked``, and another name of the passage in its place a false one
(``asked_other``).

A sentence that holds the answer's words need not state the answer ("The match … was contested by
Germany and Argentina" for who won). ``tests/fixtures/claims_read.jsonl`` holds the derived true
sentences of the public dev and test halves read one by one, apart from the checks: with ``read``,
one read as not stating the answer becomes a false case of the shape ``almost`` (an answer to a
question the passage almost answers), and one read as unclear is left out.
"""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path

from .chunk import split_sentences
from .wording import NUMBER_SPAN, lowercase_words, name_spans, names_a_date
from .documents import UnreadableDocument, read_source
from .errors import ConfigError
from .evaluate import load_qa
from .records import json_lines
from .text import STOPWORDS, fold
from .verify import support

WRITTEN = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "claims.jsonl"
READ = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "claims_read.jsonl"
WINDOW = 2          # sentences before and after the answer's sentence that make up the passage


@dataclass
class Case:
    id: str
    question: str
    passage: str
    claim: str
    supported: bool
    shape: str      # true, asked, moved, reversed, other_entity, asked_other, almost, negation


def load(path: Path) -> list[Case]:
    """The labelled cases of a JSON-lines file; a line that is not one is a one-line ConfigError."""
    fields = list(Case.__dataclass_fields__)
    return json_lines(path, f"claim case ({', '.join(fields)})", lambda row: Case(**{k: row[k] for k in fields}))


def derive(qa_file: Path, corpus: Path) -> list[Case]:
    cases: list[Case] = []
    for row in load_qa(qa_file):
        if not row.answerable or not row.answers or not row.sources:
            continue
        answer = row.answers[0][0]
        for source in row.sources:
            try:
                text = read_source(corpus, source)
            except UnreadableDocument as exc:
                raise ConfigError(f"{qa_file}: source {source} of row {row.id} in {corpus}: {exc}") from None
            sents = [text[a:b] for a, b in split_sentences(text)]
            i = next((i for i, s in enumerate(sents) if fold(answer) in fold(s)), None)
            if i is None:
                continue
            passage = " ".join(sents[max(0, i - WINDOW): i + WINDOW + 1])
            cases.extend(_cases(row.id, row.question, passage, sents[i], answer))
            break
    return cases


def _cases(rid: str, question: str, passage: str, sentence: str, answer: str) -> list[Case]:
    at = fold(sentence).find(fold(answer))
    written = sentence[at:at + len(answer)] if at >= 0 and fold(sentence[at:at + len(answer)]) == fold(answer) else answer
    out = [Case(f"{rid}-true", question, passage, sentence, True, "true")]
    lower = lowercase_words(passage, question)
    if NUMBER_SPAN.fullmatch(written.strip()):
        others = [m.group(0) for m in NUMBER_SPAN.finditer(passage) if m.group(0) != written]
    else:
        others = [t for t, _ in name_spans(passage, lower)
                  if _party(t) and fold(t) != fold(written) and fold(t) not in fold(written)]
    others = [o for o in others if fold(o) not in fold(sentence) and fold(written) not in fold(o)]
    if others:
        out.append(Case(f"{rid}-moved", question, passage, sentence.replace(written, others[0], 1), False, "moved"))
    names = [t for t, _ in name_spans(sentence, lower) if _party(t)]
    between = sentence[sentence.find(names[0]) + len(names[0]):sentence.find(names[1])].split() if len(names) >= 2 else []
    if len(names) >= 2 and fold(names[0]) != fold(names[1]) and 1 <= len(between) <= 4 \
            and all(w[:1].islower() for w in between) \
            and any(fold(w).strip(".,;:") not in STOPWORDS for w in between):
        # two parties joined by a few words that relate them ('A bought B'); not 'A and B', 'A in B'
        # or 'A of B', where the swap says the same thing or nothing
        a, b = names[0], names[1]
        swapped = re.sub(re.escape(a) + "|" + re.escape(b), lambda m: b if m.group(0) == a else a, sentence, count=2)
        out.append(Case(f"{rid}-reversed", question, passage, swapped, False, "reversed"))
    asked = [t for t, _ in name_spans(question, lowercase_words(question)) if t in sentence and t != written]
    outside = [t for t, _ in name_spans(passage, lower) if t not in sentence and _party(t)
               and not any(fold(a) in fold(t) or fold(t) in fold(a) for a in asked)]
    if asked and outside:
        out.append(Case(f"{rid}-other", question, passage, sentence.replace(asked[0], outside[0], 1), False,
                        "other_entity"))
    return out + _in_question_words(rid, question, passage, written, lower)


# 'Who' followed by what was done ('Who won …', 'Who is …'), not by an auxiliary and its subject ('Who did …').
_WHO_DID = re.compile(r"^Who\s+(?!(?:did|does|do|has|have|had|will|would|can|could|should|shall|may|might|must)\b)"
                      r"(\w.*?)\s*\?*$", re.I)
OTHERS_PER_ROW = 2


def _in_question_words(rid: str, question: str, passage: str, written: str, lower: set[str]) -> list[Case]:
    """The answer to a question that asks who did something, said in the question's words, and the same
    words said of another name of the passage."""
    m = _WHO_DID.match(question.strip())
    if not m:
        return []
    done = m.group(1)
    out = [Case(f"{rid}-asked", question, passage, f"{written} {done}.", True, "asked")]
    others = [t for t, _ in name_spans(passage, lower) if _party(t) and fold(t) not in fold(question)
              and fold(t) not in fold(written) and fold(written) not in fold(t)]
    for i, other in enumerate(list(dict.fromkeys(others))[:OTHERS_PER_ROW]):
        out.append(Case(f"{rid}-asked-other{i + 1}", question, passage, f"{other} {done}.", False, "asked_other"))
    return out


def read(cases: list[Case], path: Path) -> list[Case]:
    """The derived true cases as a reader labelled them in ``path`` (JSON lines of question, claim and
    ``reads``: answers, not_answer or unclear); cases it does not list stay as derived."""
    reads = dict(json_lines(path, "read label", lambda r: ((r["question"], r["claim"]), r["reads"])))
    # the answer in the question's words is read as the sentence it comes from was: the true case of
    # the same row and passage (two sets may share row ids, as RGB and its counterfactual copy do)
    by_row = {(c.id.removesuffix("-true"), c.passage): reads.get((c.question, c.claim))
              for c in cases if c.shape == "true"}
    out = []
    for c in cases:
        rid = c.id.removesuffix("-true").removesuffix("-asked")
        label = by_row.get((rid, c.passage)) if c.shape in ("true", "asked") else None
        if label == "unclear":
            continue
        if label == "not_answer":
            c = Case(f"{rid}-almost" if c.shape == "true" else f"{rid}-asked-almost",
                     c.question, c.passage, c.claim, False, "almost")
        out.append(c)
    return out


def _party(name: str) -> bool:
    """A name that may stand for a party: not a month or weekday, no digits."""
    return not any(ch.isdigit() for ch in name) and not names_a_date(name)



def run(cases: list[Case], generator=None) -> dict:
    """Judge every case as the product would: the verifier's support check, then the checks of what an
    answer says before it is shown (``decide.claim_problem``; with a generator, the model's check too).
    A claim counts as rejected when either stops it; the support check's own count is kept."""
    from .decide import claim_problem
    from .evidence import Passage
    from .index import Location
    from .verify import Verdict, VerifiedSentence

    rows = []
    for c in cases:
        s = support(c.claim, c.passage, c.question, c.passage)
        kept, why = s.ok, s.unstated or ", ".join(s.missing) or ("" if s.ok else "too few of its words")
        supported = kept
        if kept:
            verdict = Verdict([VerifiedSentence(c.claim, [1], statement=s.statement)], [], False)
            passage = Passage(1, c.passage, Location("", 0, len(c.passage)), context=c.passage)
            _, problem = claim_problem(c.question, verdict, generator, [passage])
            kept, why = not problem, problem
        rows.append({**asdict(c), "supported_by_passage": supported, "kept": kept, "why": why})
    false = [r for r in rows if not r["supported"]]
    true = [r for r in rows if r["supported"]]
    by_shape = Counter(r["shape"] for r in false)
    caught = Counter(r["shape"] for r in false if not r["kept"])
    true_shapes = Counter(r["shape"] for r in true)
    lost = Counter(r["shape"] for r in true if not r["kept"])
    return {
        "cases": len(rows),
        "false_rejected": f"{sum(not r['kept'] for r in false)}/{len(false)}",
        "true_rejected": f"{sum(not r['kept'] for r in true)}/{len(true)}",
        "false_rejected_by_support_check": f"{sum(not r['supported_by_passage'] for r in false)}/{len(false)}",
        "true_rejected_by_support_check": f"{sum(not r['supported_by_passage'] for r in true)}/{len(true)}",
        "false_rejected_by_shape": {k: f"{caught[k]}/{n}" for k, n in sorted(by_shape.items())},
        "true_rejected_by_shape": {k: f"{lost[k]}/{n}" for k, n in sorted(true_shapes.items())},
        "rows": rows,
    }
