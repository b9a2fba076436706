"""`rag eval`'s metrics on a tiny hand-made QA file, with scripted answers whose scores are known."""
import json

import pytest

from rag.answer import Answer, Citation, Sources
from rag.config import Settings
from rag.errors import ConfigError
from rag.evaluate import citation_supported, evaluate, load_qa, meets, percentile, retrieval_ranks, run_eval

from conftest import FakeEmbedder, FakeGenerator, echo_sentence_with

LIGHT = "The Harbour Point lighthouse was built in 1871 by the engineer Margaret Olsen."
BREAD = "The bakery opens at six in the morning and bakes 240 loaves every day."


def cite(corpus, source, quote, n=1):
    text = (corpus / source).read_text(encoding="utf-8")
    start = text.index(quote)
    return Citation(n, source, "c", start, start + len(quote), quote, 1.0)


class ScriptedEngine:
    """Yields, per question, the ranked sources and the answer written in the script."""

    def __init__(self, script):
        self.script = script

    def stream(self, question):
        sources, answer = self.script[question]
        if isinstance(answer, Exception):
            raise answer
        yield Sources(question, [Citation(i + 1, s, "c", 0, 1, "x", 0.5) for i, s in enumerate(sources)], 0.01)
        yield "draft"
        yield answer


def qa_file(tmp_path, rows):
    path = tmp_path / "qa.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n\n", encoding="utf-8")
    return path


@pytest.fixture
def scripted(corpus, tmp_path):
    light = cite(corpus, "lighthouse.md", LIGHT)
    bread = cite(corpus, "notes/bakery.txt", BREAD)
    bad = Citation(1, "lighthouse.md", "c", 0, 10, "not in the file", 1.0)

    def ans(q, text, citations=(), abstained=False, ttft=0.5, total=1.0):
        return Answer(q, text, abstained, list(citations), {"first_token_s": ttft, "total_s": total})

    rows = [
        # answerable, right, gold source ranked 1st, valid and supported citation
        {"id": "a1", "question": "When was it built?", "answers": [["1871"]], "sources": ["lighthouse.md"],
         "answerable": True},
        # answerable, both requirements needed; only one met -> wrong; gold ranked 2nd
        {"id": "a2", "question": "Who built it and when?", "answers": [["Margaret Olsen"], ["1871"]],
         "sources": ["lighthouse.md"], "answerable": True},
        # answerable, abstained -> wrong even though the text contains nothing; gold not retrieved
        {"id": "a3", "question": "How many loaves?", "answers": [["240"]], "sources": ["notes/bakery.txt"],
         "answerable": True},
        # answerable, right words but an unsupported number (999 not in the quote) and an invalid citation
        {"id": "a4", "question": "How tall?", "answers": [["Olsen"]], "sources": ["lighthouse.md"],
         "answerable": True},
        # unanswerable, abstained
        {"id": "u1", "question": "Capital of France?", "answers": [], "sources": [], "answerable": False},
        # unanswerable, answered (a miss for abstention recall)
        {"id": "u2", "question": "Price of gold?", "answers": [], "sources": [], "answerable": False},
    ]
    script = {
        "When was it built?": (["lighthouse.md", "minerals.txt"],
                               ans("When was it built?", "It was built in 1871 [1].", [light], ttft=0.2, total=1.0)),
        "Who built it and when?": (["minerals.txt", "lighthouse.md"],
                                   ans("Who built it and when?", "It was built in 1871 [1].", [light],
                                       ttft=0.4, total=2.0)),
        "How many loaves?": (["minerals.txt"],
                             ans("How many loaves?", "The documents do not answer this question.", [],
                                 abstained=True, ttft=None, total=0.5)),
        "How tall?": (["lighthouse.md"],
                      ans("How tall?", "Margaret Olsen built a tower of 999 metres [1].", [light, bad],
                          ttft=0.8, total=3.0)),
        "Capital of France?": (["minerals.txt"],
                               ans("Capital of France?", "The documents do not answer this question.", [],
                                   abstained=True, ttft=None, total=0.4)),
        "Price of gold?": (["notes/bakery.txt"],
                           ans("Price of gold?", "Bread costs 240 loaves [1].", [bread], ttft=0.6, total=4.0)),
    }
    return qa_file(tmp_path, rows), ScriptedEngine(script)


def test_every_metric_on_a_hand_made_file(scripted, corpus):
    path, engine = scripted
    result = evaluate(engine, load_qa(path), corpus, progress=False)
    m = result["metrics"]
    assert m["questions"] == 6 and m["errors"] == 0
    assert m["accuracy_n"] == "2/4" and m["accuracy"] == 0.5           # a1 and a4 meet their answers
    assert m["answered_rate_answerable"] == 0.75                        # a3 abstained
    assert m["answered_wrong_n"] == "1/4"                               # a2 answered, not what was asked
    assert m["citation_validity"] == 0.8                                # 4 of 5 citations are verbatim
    assert m["citation_support"] == 0.5                                 # a4 (999) and u2 ("Bread") fail
    assert m["abstention_precision"] == 0.5                             # abstained: a3 (wrong), u1 (right)
    assert m["abstention_recall"] == 0.5                                # u1 yes, u2 no
    assert m["hit@1"] == round(2 / 4, 4)                                # a1, a4 at rank 1
    assert m["hit@3"] == 0.75 and m["hit@5"] == 0.75                    # a2 at rank 2; a3 never
    assert m["mrr@1"] == 0.5 and m["mrr@3"] == round((1 + 0.5 + 1) / 4, 4)
    assert m["first_token_s_median"] == 0.5                             # of 0.2, 0.4, 0.8, 0.6
    assert m["total_s_median"] == 1.5 and m["total_s_p95"] == 4.0
    rows = {r["id"]: r for r in result["rows"]}
    assert rows["a1"]["correct"] is True and rows["a2"]["correct"] is False
    assert rows["a3"]["correct"] is False and rows["a3"]["rank"] is None
    assert rows["a4"]["valid_citations"] == 1 and rows["a4"]["supported"] is False
    assert rows["u1"]["correct"] is None and rows["u2"]["abstained"] is False


def test_a_failing_question_is_counted_and_the_run_goes_on(corpus, tmp_path):
    path = qa_file(tmp_path, [
        {"id": "x", "question": "boom", "answers": [["a"]], "sources": [], "answerable": True},
        {"id": "y", "question": "fine", "answers": [["yes"]], "sources": [], "answerable": True},
    ])
    engine = ScriptedEngine({"boom": ([], RuntimeError("llama died")),
                             "fine": ([], Answer("fine", "yes", False, [], {"total_s": 0.1}))})
    m = evaluate(engine, load_qa(path), corpus, progress=False)
    assert m["metrics"]["errors"] == 1 and m["metrics"]["accuracy_n"] == "1/2"
    assert "llama died" in m["rows"][0]["error"]


def test_answer_rule_and_helpers():
    assert meets("Built in  1871 by Margaret\nOlsen", [["margaret olsen"], ["1871", "1872"]])
    assert not meets("Built in 1871", [["Olsen"], ["1871"]])
    assert meets("anything", [])
    assert meets("The Cobham–Edmonds thesis", [["Cobham-Edmonds"]])      # a typographic dash
    assert meets("Besançon Hugues", [["Besancon"]]) and not meets("Cobham thesis", [["Cobham-Edmonds"]])
    assert retrieval_ranks(["a", "b", "c"], ["c", "z"]) == 3 and retrieval_ranks(["a"], ["b"]) is None
    assert percentile([3, 1, 2, None], 50) == 2 and percentile([], 95) is None
    q = "A floor of 110 dollars per kilogram was set."
    c = Citation(1, "f", "c", 0, len(q), q, 1.0)
    assert citation_supported(Answer("?", "The floor is 110 dollars [1].", False, [c], {}))
    assert not citation_supported(Answer("?", "The floor is 120 dollars [1].", False, [c], {}))
    assert not citation_supported(Answer("?", "Tokyo set a floor of 110 [1].", False, [c], {}))


def test_bad_qa_files_are_one_line_errors(tmp_path):
    with pytest.raises(ConfigError, match="cannot read QA file"):
        load_qa(tmp_path / "missing.jsonl")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": 1, "question": "q"}\n{"question": "no id"}\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="line 2 is not a QA record"):
        load_qa(bad)


def test_run_eval_end_to_end_with_fake_models_writes_json(corpus, tmp_path, monkeypatch, capsys):
    import rag.pipeline as pipeline

    settings = Settings(seeds_dir=corpus, index_dir=tmp_path / "index", models_dir=tmp_path / "no-models",
                        chunk_tokens=40, chunk_overlap_tokens=8, top_k=3, candidates=10)
    engine = pipeline.Engine(settings, embedder=FakeEmbedder(), generator=FakeGenerator(echo_sentence_with("1871", "240")))
    monkeypatch.setattr(pipeline, "get_engine", lambda s: engine)
    path = qa_file(tmp_path, [
        {"id": "q1", "question": "When was the Harbour Point lighthouse built?", "answers": [["1871"]],
         "sources": ["lighthouse.md"], "answerable": True},
        {"id": "q2", "question": "How many loaves does Rosa's Bakery bake every day?", "answers": [["240"]],
         "sources": ["notes/bakery.txt"], "answerable": True},
    ])
    out = tmp_path / "result.json"
    assert run_eval(settings, str(path), json_out=str(out)) == 0
    result = json.loads(out.read_text(encoding="utf-8"))
    m = result["metrics"]
    assert m["accuracy_n"] == "2/2" and m["hit@1"] == 1.0 and m["citation_validity"] == 1.0
    assert [r["id"] for r in result["rows"]] == ["q1", "q2"]
    printed = capsys.readouterr().out
    assert "accuracy" in printed and "q2" in printed
    with pytest.raises(ConfigError, match="holds no questions"):
        run_eval(settings, str(qa_file(tmp_path, [])))
