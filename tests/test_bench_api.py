"""The API benchmark with the fake models: paired timings, and concurrent clients all right and unmixed."""
from __future__ import annotations

from rag.bench import Plan, Question, _fmt, _table
from rag.bench_api import bench_api, report_lines
from rag.config import Settings
from rag.pipeline import Engine

from conftest import FakeEmbedder, FakeGenerator, echo_passage, echo_sentence_with

QUESTIONS = [Question("When was the Harbour Point lighthouse built?", [["1871"]]),
             Question("What price floor was set for NdPr oxide?", [["110 dollars"]]),
             Question("How many loaves does Rosa's Bakery bake every day?", [["240"]]),
             Question("What is the capital of France?", [], answerable=False)]


def test_api_bench_measures_and_checks_concurrent_clients(corpus, tmp_path):
    settings = Settings(seeds_dir=corpus, index_dir=tmp_path / "index", chunk_tokens=40, chunk_overlap_tokens=8,
                        top_k=3, candidates=10)
    # a model that answers with the sentence of the passages that holds the answer
    engine = Engine(settings, embedder=FakeEmbedder(),
                    generator=FakeGenerator(echo_sentence_with("1871", "110 dollars", "240")))
    res: dict = {}
    bench_api(settings, Plan(), QUESTIONS, settings.index_dir, res, engine=engine, clients=4, per_client=3)
    api = res["api"]
    assert [r["question"] for r in api["rows"]] == [q.text for q in QUESTIONS[:3]]   # answerable ones only
    assert all(r["right_in_process"] and r["right_api"] for r in api["rows"])
    assert all(r["api_total_s"] >= r["api_first_content_s"] > 0 and r["api_added_ms"] is not None
               for r in api["rows"])
    c = api["concurrent"]
    assert (c["answers"], c["right"], c["own"], c["errors"]) == (12, 12, 12, 0)
    lines = report_lines(api, _fmt, _table)
    assert any(line.startswith("| added by the API | ") and line.endswith(" ms |") for line in lines)
    assert "12 of 12 right" in lines[-1]


def test_a_wrong_answer_is_counted(corpus, tmp_path):
    settings = Settings(seeds_dir=corpus, index_dir=tmp_path / "index", chunk_tokens=40, chunk_overlap_tokens=8,
                        top_k=3, candidates=10)
    engine = Engine(settings, embedder=FakeEmbedder(), generator=FakeGenerator(echo_passage(1)))
    res: dict = {}
    wrong = [Question(QUESTIONS[0].text, [["1872"]])]
    bench_api(settings, Plan(quick=True), wrong, settings.index_dir, res, engine=engine)
    assert res["api"]["concurrent"]["right"] == 0 and res["api"]["concurrent"]["own"] == 2
