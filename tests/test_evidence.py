"""Evidence passages: the best sentences, each widened to a verbatim span with its neighbours."""
import pytest

from rag import evidence
from rag.index import ChunkRecord, Location
from rag.retrieve import Hit

from conftest import FakeEmbedder

SNIPPET = "Oct 19, 2021 ... Google has officially announced the Pixel 6 phone. It ships next week."
LONG = ("The harbour was dredged in 1902. " * 3 + "The lighthouse was built in 1871 by Margaret Olsen. "
        + "Its lamp burned whale oil until 1910. " * 3)


def hits(*docs: tuple[str, str, int]) -> list[Hit]:
    """Hits for whole files: (name, text, where the text starts in the file)."""
    out = []
    for row, (name, text, start) in enumerate(docs):
        rec = ChunkRecord(row, f"c{row}", text, [Location(name, start, start + len(text))])
        out.append(Hit(rec, 1.0 / (row + 1), None, row, row))
    return out


def select(question, found, k=3):
    emb = FakeEmbedder()
    return evidence.select(question, emb.embed_query(question), found, emb, k=k)


def test_a_short_snippet_is_shown_whole_with_its_date_line():
    [p, *_] = select("When was the Pixel 6 announced?", hits(("pixel.txt", SNIPPET, 0)))
    assert p.text == SNIPPET
    assert (p.location.start, p.location.end) == (0, len(SNIPPET))


def test_a_widened_passage_stays_within_the_limit_and_is_verbatim_at_its_location():
    file_text = "Preface.\n" + LONG
    start = len("Preface.\n")
    passages = select("When was the lighthouse built?", hits(("light.md", LONG, start)), k=2)
    best = passages[0]
    assert "built in 1871" in best.text
    assert len(best.text) <= evidence.WINDOW_CHARS
    for p in passages:
        assert file_text[p.location.start:p.location.end] == p.text
        assert p.context[p.span[0]:p.span[1]] == p.text


def test_windows_of_one_chunk_do_not_overlap():
    passages = select("When was the lighthouse built and what did its lamp burn?", hits(("light.md", LONG, 0)), k=3)
    spans = sorted(p.span for p in passages)
    assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:])), spans


def test_the_same_chunk_in_another_file_is_widened_alike():
    rec = ChunkRecord(0, "c0", SNIPPET, [Location("a.txt", 0, len(SNIPPET)), Location("b.txt", 40, 40 + len(SNIPPET))])
    [p] = select("When was the Pixel 6 announced?", [Hit(rec, 1.0, None, 0, 0)], k=1)
    assert p.text == SNIPPET
    [(loc, text)] = p.also
    assert (loc.source, loc.start, loc.end, text) == ("b.txt", 40, 40 + len(SNIPPET), SNIPPET)


def test_without_a_window_the_passage_is_the_sentence(monkeypatch):
    monkeypatch.setattr(evidence, "WINDOW_CHARS", 0)
    [p, *_] = select("When was the Pixel 6 announced?", hits(("pixel.txt", SNIPPET, 0)))
    assert p.text == "Google has officially announced the Pixel 6 phone."


@pytest.mark.parametrize("question,plain,full,bonus", [
    ("When will The Crown season three premiere on Netflix?",
     "The Crown season three will premiere on Netflix in November this year.",
     "The Crown season three will premiere on Netflix on November 17, 2019 worldwide.", "full_date"),
    ("Who signed the framework on behalf of Japan?",
     "The framework was signed on behalf of Japan in Tokyo on a visit.",
     "The framework was signed on behalf of Japan by Sanae Takaichi.", "full_name"),
])
def test_the_asked_for_fact_in_full_outranks_a_partial_one(monkeypatch, question, plain, full, bonus):
    found = hits(("a.txt", plain, 0), ("b.txt", full, 0))
    assert select(question, found, k=1)[0].text == full
    monkeypatch.setitem(evidence.W, bonus, 0.0)
    monkeypatch.setitem(evidence.W, "kind", 0.0)
    assert select(question, found, k=1)[0].text == plain      # without the bonus the earlier hit wins


def test_a_sentence_far_less_relevant_than_the_best_is_not_shown(monkeypatch):
    found = hits(("lighthouse.txt", "The Harbour Point lighthouse was built in 1871 by Margaret Olsen.", 0),
                 ("town.txt", "The town school has a choir that sings on Sundays.", 0),
                 ("keeper.txt", "The Harbour Point lighthouse keeper is Ann Berg, who lives by the lighthouse.", 0))
    question = "When was the Harbour Point lighthouse built?"
    shown = select(question, found, k=3)
    assert shown[0].location.source == "lighthouse.txt"
    assert all(p.score >= shown[0].score - evidence.FAR_BELOW_BEST for p in shown)
    assert "town.txt" not in [p.location.source for p in shown]
    # the same candidates with the margin out of the way: the town's sentence was a candidate
    monkeypatch.setattr(evidence, "FAR_BELOW_BEST", 10.0)
    assert "town.txt" in [p.location.source for p in select(question, found, k=3)]
