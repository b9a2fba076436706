"""The claim-check benchmark (rag claims): deriving cases from a QA file and scoring them."""
import json

from rag import bench_claims

from conftest import FakeGenerator


def write_set(tmp_path, text: str, rows: list[dict]):
    """A one-document corpus (a.txt) and its QA file."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.txt").write_text(text, encoding="utf-8")
    qa = tmp_path / "qa.jsonl"
    qa.write_text("".join(json.dumps({**r, "sources": ["a.txt"], "answerable": True}) + "\n" for r in rows),
                  encoding="utf-8")
    return qa, corpus


def test_cases_are_derived_from_the_sentence_that_holds_the_answer(tmp_path):
    qa, corpus = write_set(tmp_path, "Final report. In the final, Oakridge United beat Harbor City 3-1. "
                                     "Pinevale finished third.",
                           [{"id": "q1", "question": "Who won the final?", "answers": [["Oakridge United"]]}])
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


def test_no_false_case_is_made_by_a_swap_that_says_the_same_thing(tmp_path):
    # 'Lyon and Porto' swapped is still true, and so is 'Mill Road in Harbor City': neither is a reversed relation
    qa, corpus = write_set(tmp_path, "Tour notes. The band played Lyon and Porto in May. The final show was at "
                                     "Mill Road in Harbor City.",
                           [{"id": "q1", "question": "Which cities did the band play in May?", "answers": [["Lyon"]]},
                            {"id": "q2", "question": "Where was the final show?", "answers": [["Mill Road"]]}])
    shapes = [(c.id, c.shape) for c in bench_claims.derive(qa, corpus)]
    assert ("q1-reversed", "reversed") not in shapes and ("q2-reversed", "reversed") not in shapes
    assert ("q1-true", "true") in shapes and ("q2-true", "true") in shapes


def test_a_claim_the_passage_supports_but_that_does_not_answer_counts_as_rejected():
    # what an answer must do before it is shown (repeat more than the question, state the kind asked)
    # counts as the product's verdict; the support check's own figure is reported beside it
    passage = "The Tern library removed its XML reader in version 5.0. Mei Chen wrote its streaming parser."
    cases = [bench_claims.Case("a", "Why was the XML reader removed?", passage,
                               "The XML reader was removed in version 5.0.", False, "almost"),
             bench_claims.Case("b", "Who wrote the streaming parser?", passage,
                               "Mei Chen wrote its streaming parser.", True, "true")]
    result = bench_claims.run(cases)
    assert result["false_rejected"] == "1/1" and result["true_rejected"] == "0/1"
    assert result["false_rejected_by_support_check"] == "0/1"
    assert "reason" in result["rows"][0]["why"]
