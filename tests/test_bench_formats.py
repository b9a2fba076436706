"""The benchmark of reading each kind of document (with the fake embedder's token counts)."""
from rag.bench import _table
from rag.bench_formats import KINDS, bench_formats, report_lines
from rag.chunk import Chunker
from rag.config import Settings
from rag.documents import read_document

from conftest import FakeEmbedder

WORDS = "harbour ferry crane tide lighthouse bakery bread river bridge market".split()


def test_every_kind_is_read_and_timed_and_ocr_is_timed_per_page(tmp_path):
    res = {}
    chunker = Chunker(FakeEmbedder().count_tokens, 60, 8)
    bench_formats(Settings(seeds_dir=tmp_path), WORDS, 2, 1, tmp_path / "work", res, chunker=chunker)
    kinds = res["formats"]["kinds"]
    assert list(kinds) == list(KINDS)
    for kind, row in kinds.items():
        assert row["documents"] == 2 and row["chunks"] >= 2 * 5, (kind, row)
        assert row["docs_per_s"] > 0 and row["chunks_per_s"] >= row["docs_per_s"]
        doc = read_document(tmp_path / "work" / f"formats-{kind[1:]}" / f"doc0{kind}", f"doc0{kind}")
        assert sum(doc.text.count(w) for w in WORDS) > 1000          # the synthetic text was read
    assert 0 < res["formats"]["ocr_s_per_page"] < 60
    head, rows = report_lines(res)
    table = _table(["kind", "documents", "chunks", "documents/s", "chunks/s"], rows)
    assert len(table) == 2 + len(KINDS) and "s per page" in head[0]
