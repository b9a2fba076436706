"""`rag bench`: the quick run writes a complete report and chart; the helpers it relies on."""
from __future__ import annotations

import json
import sys
import re

import numpy as np
import pytest

from rag.bench import SECTIONS, _exact_top, embedding_like, load_questions, run_bench
from rag.cli import _parser
from rag.config import REPO_ROOT, Settings
from rag.errors import ConfigError


def test_cli_writes_to_bench_out_by_default():
    args = _parser().parse_args(["bench", "--quick"])
    assert args.out == "bench-out" and args.quick and args.questions is None


def test_questions_in_both_formats(tmp_path):
    f = tmp_path / "q.jsonl"
    f.write_text('{"question": "Q one?", "expect": ["110", "kg"]}\n\n'
                 '{"id": "s1", "question": "Q two?", "answers": [["MP Materials", "MP"]], "answerable": false}\n')
    qs = load_questions(f)
    assert [q.text for q in qs] == ["Q one?", "Q two?"]
    assert qs[0].expect == [["110"], ["kg"]] and qs[0].answerable
    assert qs[1].expect == [["MP Materials", "MP"]] and not qs[1].answerable
    f.write_text('{"text": "no question field"}\n')
    with pytest.raises(ConfigError, match="line 1"):
        load_questions(f)
    with pytest.raises(ConfigError, match="cannot read"):
        load_questions(tmp_path / "missing.jsonl")


def test_exact_top_matches_a_full_sort():
    rng = np.random.default_rng(3)
    X = embedding_like(5_000, rng)
    Q = embedding_like(7, rng)
    np.testing.assert_allclose(np.linalg.norm(X, axis=1), 1.0, atol=1e-5)
    expected = np.argsort(-(Q @ X.T), axis=1)[:, :10]
    assert (_exact_top(X, Q) == expected).all()


@pytest.mark.integration
def test_quick_bench_writes_every_section_with_numbers(tmp_path):
    published = REPO_ROOT / "BENCHMARKS.md"
    before = published.stat().st_mtime_ns if published.exists() else None
    settings = Settings.from_env(seeds_dir=REPO_ROOT / "seeds")
    # The builds section compares this environment's llama.cpp build with another one's; here the
    # "other" one is this same Python, which exercises the comparison without a second build.
    rc = run_bench(settings, quick=True, out=tmp_path / "out", llama_builds=[sys.executable])
    report = (tmp_path / "out" / "BENCHMARKS.md").read_text()
    data = json.loads((tmp_path / "out" / "bench.json").read_text())
    assert data["errors"] == {} and rc == 0
    for title in SECTIONS.values():
        assert f"## {title}\n" in report, title
        body = report.split(f"## {title}\n", 1)[1].split("\n## ", 1)[0]
        rows = [line for line in body.splitlines() if line.startswith("| ") and not line.startswith("| ---")]
        assert len(rows) >= 2 and any(re.search(r"\d", r) for r in rows[1:]), (title, body)
        assert "Not measured" not in body
    assert "rag bench --quick" in report and data["machine"]["cores"] >= 1
    assert data["llm"]["gen_ratio"] > 0 and data["embeddings"]["cosine_chunks_mean"] > 0.98
    assert {r["index"] for r in data["retrieval"]["rows"]} == {"faiss-flat-ip", "faiss-ivf-flat-ip"}
    for cold in data["cold"]["builds"]:
        assert cold["without_state"]["prefix"] == "read" and cold["with_state"]["prefix"] == "loaded"
        assert cold["with_state"]["phases_s"]["prefix_ready"] < cold["without_state"]["phases_s"]["prefix_ready"]
    assert len(data["builds"]["rows"]) == 2 and all(r["answers"] == 2 for r in data["builds"]["rows"])
    png = (tmp_path / "out" / "docs" / "bench.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 20_000
    assert "docs/bench.png" in report
    after = published.stat().st_mtime_ns if published.exists() else None
    assert after == before                      # the published report is not touched
