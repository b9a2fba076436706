import random

import numpy as np
import pytest

from rag.chunk import Chunker, chunk_id, split_sentences
from rag.errors import ConfigError

from conftest import CORPUS, fake_count


def count_tokens(texts):
    return [fake_count(t) for t in texts]


def sentences(text):
    return [text[a:b] for a, b in split_sentences(text)]


# --------------------------------------------------------------------------- sentence splitting

@pytest.mark.parametrize("text, expected", [
    ("Dr. Smith met the U.S. delegation in Tokyo. They signed the deal.",
     ["Dr. Smith met the U.S. delegation in Tokyo.", "They signed the deal."]),
    ("J. R. R. Tolkien wrote The Hobbit. It appeared in 1937.",
     ["J. R. R. Tolkien wrote The Hobbit.", "It appeared in 1937."]),
    ("Fruit, e.g. apples, is sold here. Mr. Brown and Mrs. Green buy it, i.e. daily. Prices vary.",
     ["Fruit, e.g. apples, is sold here.", "Mr. Brown and Mrs. Green buy it, i.e. daily.", "Prices vary."]),
    ("Is it done? Yes! It is finished.", ["Is it done?", "Yes!", "It is finished."]),
    ('He said "Stop." Then he left.', ['He said "Stop."', "Then he left."]),
    ("A heading\nA line without a full stop\n\n  Indented text.  ", ["A heading", "A line without a full stop",
                                                                   "Indented text."]),
    ("Version 3.5 costs $4.99 today. Really.", ["Version 3.5 costs $4.99 today.", "Really."]),
    # notes in brackets after a sentence's mark, as pages copied from an encyclopedia have them, end it
    ("It was Huguenot.[citation needed] In 1705, it did.[12][13] Then (see [4]) more.",
     ["It was Huguenot.[citation needed]", "In 1705, it did.[12][13]", "Then (see [4]) more."]),
    ("", []),
    ("   \n\n  ", []),
])
def test_split_sentences(text, expected):
    assert sentences(text) == expected


def test_split_sentences_spans_are_trimmed_and_inside_the_range():
    text = "Ignore this. Keep one. Keep two.  Ignore that too."
    start, end = text.index("Keep one"), text.index("Ignore that")
    spans = split_sentences(text, start, end)
    assert [text[a:b] for a, b in spans] == ["Keep one.", "Keep two."]
    assert all(start <= a < b <= end for a, b in spans)


# --------------------------------------------------------------------------- chunk invariants

def _prose(n_sentences: int, seed: int) -> str:
    rnd = random.Random(seed)
    vocab = ("rare earth agreement Tokyo minerals supply chain lighthouse keeper bakery bread "
             "framework investment recycling cooperation Dr. U.S. e.g. government 1871 400 billion "
             "extraordinarily-long-hyphenated-compound internationalisation").split()
    out = []
    for _ in range(n_sentences):
        words = [rnd.choice(vocab) for _ in range(rnd.randint(1, 40))]
        out.append(" ".join(words) + rnd.choice([".", "!", "?", ".", ".\n", ".\n\n", ";"]) + " ")
    return "".join(out)


TEXTS = {
    "corpus": "\n".join(CORPUS.values()),
    "prose": _prose(300, seed=1),
    "one-long-sentence": " ".join(f"word{i}" for i in range(3000)),
    "enormous-word": "Short intro. " + "x" * 50_000 + " and a normal ending sentence.",
    "mixed-density-word": "Before. " + ("abcdefghij" * 9 + "!-=+?.,;:/") * 400 + " After.",
    "big-then-small": ("alpha " * 40 + ". ") + ("beta gamma. " * 3) + ("delta " * 40 + ".") * 3,
    "whitespace-heavy": "\n\n   one.   \n\t two.\n\n\n" * 50,
    "unicode": "Ça coûte 5 €. Das Mädchen läuft… schnell! 東京で会議が開かれた。 Fin.\n" * 40,
    "single-char": "a",
}


def check_chunks(text: str, chunks, chunker: Chunker) -> None:
    assert chunks, "no chunks for a text with content"
    for c in chunks:
        assert text[c.start:c.end] == c.text
        assert c.text and c.text == c.text.strip()
        assert c.id == chunk_id(c.text)
    counts = chunker.count_tokens([c.text for c in chunks])
    assert max(counts) <= chunker.max_tokens, "a chunk is longer than max_tokens"
    covered = np.zeros(len(text) + 1, dtype=np.int32)
    for c in chunks:
        covered[c.start] += 1
        covered[c.end] -= 1
    covered = np.cumsum(covered)[:-1] > 0
    not_space = np.fromiter((not ch.isspace() for ch in text), dtype=bool, count=len(text))
    assert not (not_space & ~covered).any(), "some text is in no chunk"
    for prev, nxt in zip(chunks, chunks[1:]):
        assert nxt.start > prev.start and nxt.end > prev.end, "the chunker did not move forward"
        if nxt.start < prev.end:
            shared = text[nxt.start:prev.end]
            assert chunker.count_tokens([shared])[0] <= chunker.overlap_tokens


@pytest.mark.parametrize("name", sorted(TEXTS))
@pytest.mark.parametrize("max_tokens, overlap", [(8, 0), (20, 5), (60, 15), (200, 40)])
def test_chunk_invariants(name, max_tokens, overlap):
    text = TEXTS[name]
    chunker = Chunker(count_tokens, max_tokens, overlap)
    check_chunks(text, chunker.split("doc.txt", text), chunker)


@pytest.mark.parametrize("seed", range(12))
def test_chunk_invariants_random_texts(seed):
    rnd = random.Random(seed)
    text = _prose(rnd.randint(1, 60), seed)
    if rnd.random() < 0.5:
        text = text.replace(". ", "." + " " * rnd.randint(1, 3) + "\n" * rnd.randint(0, 2))
    max_tokens = rnd.randint(8, 120)
    chunker = Chunker(count_tokens, max_tokens, rnd.randint(0, max_tokens - 1))
    check_chunks(text, chunker.split("doc.txt", text), chunker)


def test_overlap_repeats_trailing_sentences():
    text = " ".join(f"Sentence number {i} is here." for i in range(30))
    chunker = Chunker(count_tokens, 40, 12)
    chunks = chunker.split("doc.txt", text)
    assert len(chunks) > 3
    assert any(n.start < p.end for p, n in zip(chunks, chunks[1:])), "no overlap at all"
    no_overlap = Chunker(count_tokens, 40, 0).split("doc.txt", text)
    assert all(n.start >= p.end for p, n in zip(no_overlap, no_overlap[1:]))


def check_whole_words(text, chunks):
    for c in chunks:
        assert c.start == 0 or text[c.start - 1].isspace(), f"chunk starts inside a word: {c!r}"
        assert c.end == len(text) or text[c.end].isspace(), f"chunk ends inside a word: {c!r}"


# A little over 1 MiB, so the text is also chunked in two blocks (see Chunker.iter_chunks).
BIG = (1 << 20) + 50_001


def test_one_megabyte_single_line():
    line = ("The agreement on rare earths was signed in Tokyo by both governments. " * 16_000)[:BIG]
    assert "\n" not in line and len(line) == BIG
    chunker = Chunker(count_tokens, 60, 12)
    chunks = chunker.split("big.txt", line)
    check_chunks(line, chunks, chunker)
    check_whole_words(line, chunks)


def test_one_megabyte_single_line_without_sentence_ends():
    line = " ".join(f"w{i % 9973}" for i in range(200_000))[:BIG]
    assert "\n" not in line and "." not in line and len(line) == BIG
    chunker = Chunker(count_tokens, 50, 10)
    chunks = chunker.split("big.txt", line)
    check_chunks(line, chunks, chunker)
    check_whole_words(line, chunks)


def test_text_longer_than_one_block_is_chunked_block_by_block():
    text = "".join(f"Line {i} says something about minerals.\n" for i in range(400))
    chunker = Chunker(count_tokens, 30, 6)
    chunks = list(chunker.iter_chunks("doc.txt", text, block=1000))
    check_chunks(text, chunks, chunker)


def test_chunks_are_deterministic_and_carry_the_source():
    text = TEXTS["prose"]
    a = Chunker(count_tokens, 50, 10).split("x/a.txt", text)
    b = Chunker(count_tokens, 50, 10).split("x/a.txt", text)
    assert a == b
    assert {c.source for c in a} == {"x/a.txt"}


def test_empty_and_blank_texts_have_no_chunks():
    chunker = Chunker(count_tokens, 50, 10)
    assert chunker.split("a.txt", "") == []
    assert chunker.split("a.txt", " \n\t\n ") == []


@pytest.mark.parametrize("max_tokens, overlap", [(7, 0), (0, 0), (50, 50), (50, 60), (50, -1)])
def test_chunker_rejects_bad_settings(max_tokens, overlap):
    with pytest.raises(ConfigError):
        Chunker(count_tokens, max_tokens, overlap)


def test_chunker_settings_describe_the_chunking():
    s = Chunker(count_tokens, 120, 30).settings()
    assert s["max_tokens"] == 120 and s["overlap_tokens"] == 30 and s["splitter"]
    assert s != Chunker(count_tokens, 120, 31).settings()
