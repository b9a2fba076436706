"""The claim-check benchmark (rag claims): deriving cases from a QA file and scoring them."""
import json

from rag import bench_claims

from conftest import FakeGenerator


def test_cases_are_derived_from_the_sentence_that_holds_the_answer(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.txt").write_text("Final report. In the final, Oakridge United beat Harbor City 3-1. "
                                  "Pinevale finished third.", encoding="utf-8")
    qa = tmp_path / "qa.jsonl"
    qa.write_text(json.dumps({"id": "q1", "question": "Who won the final?", "answers": [["Oakridge United"]],
                              "sources": ["a.txt"], "answerable": True}) + "\n", encoding="utf-8")
    cases = {c.shape: c for c in bench_claims.derive(qa, corpus)}
    assert cases["true"].claim == "In the final, Oakridge United beat Harbor City 3-1." and cases["true"].supported
    assert cases["moved"].claim == "In the final, Pinevale beat Harbor City 3-1." and not cases["moved"].supported
    assert cases["reversed"].claim == "In the final, Harbor City beat Oakridge United 3-1."
    result = bench_claims.run(list(cases.values()))
    assert result["true_rejected"] == "0/1"
    assert result["false_rejected"] == "2/2", result["rows"]


def test_the_written_cases_load_and_a_generator_without_scores_changes_nothing():
    cases = bench_claims.load(bench_claims.WRITTEN)
    assert len(cases) >= 70 and {c.shape for c in cases} >= {"true", "moved", "reversed", "other_entity", "almost"}
    assert bench_claims.run(cases[:20], FakeGenerator())["rows"] == bench_claims.run(cases[:20])["rows"]
