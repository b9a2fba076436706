"""No fabricated relations, with the real embedding model and the real 0.5B LLM, on a small corpus
written for these tests: questions the documents answer, and questions they almost answer (the
figure, date or deal is there, but said of another party). Whatever the model drafts, the answer
returned never states the other party's fact as the asked one's, and its citations are verbatim.
"""
from __future__ import annotations

from pathlib import Path

import pytest

import rag
from rag.config import Settings
from rag.documents import read_text
from rag.pipeline import Engine

pytestmark = pytest.mark.integration

CORPUS = {
    "deals.txt": (
        "Acme Corp bought Gamma Ltd for $5 million in March 2021. Similar deals were later signed with "
        "Beta Industries and Delta Foods. Gamma's founder, Rosa Alvarez, stayed on as chief engineer.\n"),
    "orchard.txt": (
        "The Linden orchard grows pears and quinces. Its neighbour, the Ashby farm, keeps 300 sheep. "
        "Linden sold 42 tonnes of pears in 2022.\n"),
    "samples.txt": (
        "At room temperature, sample A conducted 45 siemens per metre and sample B conducted 12 siemens "
        "per metre; both lost conductivity above 80 degrees.\n"),
    "bridges.txt": (
        "The Ardent Bridge opened in 1964 and is 1,340 metres long. A second crossing, the Lowgate Bridge, "
        "opened in 1971.\n"),
}


@pytest.fixture(scope="module")
def engine(tmp_path_factory) -> tuple[Engine, Path]:
    root = tmp_path_factory.mktemp("trust")
    seeds = root / "seeds"
    seeds.mkdir()
    for name, text in CORPUS.items():
        (seeds / name).write_text(text, encoding="utf-8")
    rag.build_index(seeds_dir=seeds, index_dir=root / "index")
    return Engine(Settings.from_env(seeds_dir=seeds, index_dir=root / "index")), seeds


def ask(engine, question: str):
    """The engine's answer to ``question``, its citations checked verbatim against the corpus."""
    eng, seeds = engine
    a = eng.answer(question)
    for c in a.citations:
        assert read_text(seeds / c.source)[c.start:c.end] == c.quote
    return a


@pytest.mark.parametrize("question, fact", [
    ("How many tonnes of pears did Linden sell in 2022?", "42"),
    ("How much did Acme Corp pay for Gamma Ltd?", "5 million"),
    ("How well did sample B conduct at room temperature?", "12 siemens"),
    ("When did the Lowgate Bridge open?", "1971"),
])
def test_questions_the_documents_answer(engine, question, fact):
    a = ask(engine, question)
    assert not a.abstained and fact in a.answer, a.to_dict()


@pytest.mark.parametrize("question, other_partys_fact", [
    ("How much did Beta Industries pay?", "5 million"),
    ("How many tonnes of pears did the Ashby farm sell?", "42"),
    ("How many sheep does the Linden orchard keep?", "300"),
    ("How long is the Lowgate Bridge?", "1,340"),
    ("When did Delta Foods sign its deal with Acme?", "2021"),
])
def test_questions_the_documents_almost_answer_get_no_borrowed_fact(engine, question, other_partys_fact):
    a = ask(engine, question)
    # Abstaining is right. Stating the other party's fact as this one's is not, in the model's words or
    # as a quoted passage presented as the answer.
    assert a.abstained or other_partys_fact not in a.answer, a.to_dict()
