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
    cases = {c.shape: c for c in bench_claims.derive(qa, corpus) if not c.shape.startswith("asked")}
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


def test_derived_sentences_read_as_not_answering_count_as_false(tmp_path):
    # 'contested by' holds the winner's name but does not say who won: read so, it is an 'almost' case
    qa, corpus = write_set(tmp_path, "Final report. The final was contested by Oakridge United and Harbor City. "
                                     "Pinevale finished third. Oakridge United won the final 3-1.",
                           [{"id": "q1", "question": "Who won the final?", "answers": [["Oakridge United"]]},
                            {"id": "q2", "question": "Who finished third?", "answers": [["Pinevale"]]}])
    derived = bench_claims.derive(qa, corpus)
    labels = tmp_path / "read.jsonl"
    labels.write_text(
        json.dumps({"question": "Who won the final?", "reads": "not_answer",
                    "claim": "The final was contested by Oakridge United and Harbor City."}) + "\n"
        + json.dumps({"question": "Who finished third?", "reads": "unclear",
                      "claim": "Pinevale finished third."}) + "\n", encoding="utf-8")
    cases = bench_claims.read(derived, labels)
    by_id = {c.id: c for c in cases}
    assert by_id["q1-almost"].shape == "almost" and not by_id["q1-almost"].supported
    assert "q1-true" not in by_id and "q2-true" not in by_id          # the unclear one is left out
    # the answer in the question's words is read as the sentence it comes from was
    assert by_id["q1-asked-almost"].claim == "Oakridge United won the final." and not by_id["q1-asked-almost"].supported
    assert "q2-asked" not in by_id
    # the cases made by moving or swapping facts are not read: they stay as derived
    assert [c.id for c in cases if c.shape != "almost"] == [c.id for c in derived if c.shape not in ("true", "asked")]


def test_an_answer_in_the_question_words_takes_the_label_of_its_own_rows_sentence(tmp_path):
    # two sets may share row ids (RGB and its counterfactual copy): each asked case is read as the
    # sentence of its own passage was
    q = "Who won the final?"
    cases = [bench_claims.Case("q1-true", q, "A won the final.", "A won the final.", True, "true"),
             bench_claims.Case("q1-asked", q, "A won the final.", "A won the final.", True, "asked"),
             bench_claims.Case("q1-true", q, "The final was contested by B and C.",
                               "The final was contested by B and C.", True, "true"),
             bench_claims.Case("q1-asked", q, "The final was contested by B and C.", "B won the final.", True, "asked")]
    labels = tmp_path / "read.jsonl"
    labels.write_text(json.dumps({"question": q, "claim": "A won the final.", "reads": "answers"}) + "\n"
                      + json.dumps({"question": q, "claim": "The final was contested by B and C.",
                                    "reads": "not_answer"}) + "\n", encoding="utf-8")
    read = bench_claims.read(cases, labels)
    assert [(c.claim, c.shape, c.supported) for c in read] == [
        ("A won the final.", "true", True), ("A won the final.", "asked", True),
        ("The final was contested by B and C.", "almost", False), ("B won the final.", "almost", False)]


def test_the_answer_is_also_put_in_the_words_of_a_question_that_asks_who(tmp_path):
    qa, corpus = write_set(tmp_path, "Final report. In the final, Oakridge United beat Harbor City 3-1 at Mill Road. "
                                     "Pinevale finished third.",
                           [{"id": "q1", "question": "Who won the final?", "answers": [["Oakridge United"]]},
                            {"id": "q2", "question": "Who did Oakridge United beat?", "answers": [["Harbor City"]]}])
    cases = [c for c in bench_claims.derive(qa, corpus) if c.shape.startswith("asked")]
    assert [(c.id, c.claim, c.supported) for c in cases] == [
        ("q1-asked", "Oakridge United won the final.", True),
        ("q1-asked-other1", "Harbor City won the final.", False),
        ("q1-asked-other2", "Mill Road won the final.", False)]      # 'Who did …' is not turned round
    result = bench_claims.run(cases[:2])
    assert result["false_rejected_by_shape"] == {"asked_other": "1/1"}, result["rows"]
    assert result["true_rejected_by_shape"] == {"asked": "0/1"}      # 'beat … in the final' says who won it


def test_the_read_labels_shipped_name_a_label_for_every_line():
    with open(bench_claims.READ, encoding="utf-8") as f:
        rows = [json.loads(line) for line in f if line.strip()]
    assert len(rows) >= 100
    assert {r["reads"] for r in rows} == {"answers", "not_answer", "unclear"}
    assert all(r["question"] and r["claim"] for r in rows)
