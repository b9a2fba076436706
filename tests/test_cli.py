"""The `rag` command, without loading any real model: the embedder and generator seams are faked."""
import json

import pytest

import rag.pipeline
from rag import models
from rag.cli import main

from conftest import FakeEmbedder, FakeGenerator, echo_passage


@pytest.fixture(autouse=True)
def _fresh_engines(monkeypatch):
    monkeypatch.setattr(rag.pipeline, "_engines", {})


@pytest.fixture
def fake_embedder_everywhere(monkeypatch):
    embedder = FakeEmbedder()
    monkeypatch.setattr(rag.pipeline, "shared_embedder", lambda settings: embedder)
    return embedder


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("rag: error: ")
    return lines[0]


@pytest.mark.parametrize("question", ["", "   "])
@pytest.mark.parametrize("model_args", [["--model", "no-such-model"], []])
@pytest.mark.parametrize("json_flag", [[], ["--json"]])
def test_ask_an_empty_question(tmp_path, monkeypatch, capsys, corpus, question, model_args, json_flag):
    monkeypatch.setenv("RAG_MODELS_DIR", str(tmp_path / "no-models-here"))
    code = main(["ask", question, "--seeds", str(corpus), "--index", str(tmp_path / "index"),
                 *model_args, *json_flag])
    assert code == 2
    assert "question is empty" in one_error_line(capsys)
    assert capsys.readouterr().out == ""
    assert not (tmp_path / "index").exists(), "an empty question should not build an index"


def test_ask_with_an_unknown_model_name(tmp_path, capsys, corpus, fake_embedder_everywhere):
    code = main(["ask", "When was the lighthouse built?", "--seeds", str(corpus),
                 "--index", str(tmp_path / "index"), "--model", "no-such-model"])
    assert code == 2
    line = one_error_line(capsys)
    assert "unknown model 'no-such-model'" in line and "qwen2.5-coder-0.5b" in line


def test_ask_with_a_missing_models_folder(tmp_path, monkeypatch, capsys, corpus, fake_embedder_everywhere):
    monkeypatch.setenv("RAG_MODELS_DIR", str(tmp_path / "no-models-here"))
    code = main(["ask", "When was the lighthouse built?", "--seeds", str(corpus),
                 "--index", str(tmp_path / "index"), "--model", "default"])
    assert code == 2
    line = one_error_line(capsys)
    assert "no-models-here" in line and "is missing" in line and "rag models fetch" in line


def test_index_on_a_missing_corpus_folder(tmp_path, capsys):
    code = main(["index", "--seeds", str(tmp_path / "missing"), "--index", str(tmp_path / "index")])
    assert code == 2
    assert "does not exist" in one_error_line(capsys)


def test_index_on_a_folder_with_nothing_to_index(tmp_path, capsys):
    (tmp_path / "seeds").mkdir()
    (tmp_path / "seeds" / "scan.pdf").write_bytes(b"%PDF")
    code = main(["index", "--seeds", str(tmp_path / "seeds"), "--index", str(tmp_path / "index")])
    assert code == 2
    assert "nothing to index" in one_error_line(capsys)


def test_a_bad_number_in_the_environment_is_a_one_line_error(monkeypatch, capsys):
    monkeypatch.setenv("RAG_TOP_K", "many")
    assert main(["models", "list"]) == 2
    assert "RAG_TOP_K" in one_error_line(capsys)


def test_a_bad_flag_value_is_a_one_line_error(tmp_path, capsys, corpus):
    code = main(["ask", "What?", "--seeds", str(corpus), "--index", str(tmp_path / "index"), "-k", "0"])
    assert code == 2
    assert "top_k" in one_error_line(capsys)


def test_models_list(tmp_path, capsys):
    spec = models.KNOWN_MODELS["qwen2.5-coder-1.5b"]
    (tmp_path / spec.filename).write_bytes(b"GGUF")
    assert main(["models", "list", "--models-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == len(models.KNOWN_MODELS)
    by_name = {line.split()[0]: line for line in out}
    assert set(by_name) == set(models.KNOWN_MODELS)
    assert by_name["qwen2.5-coder-0.5b"].endswith("not fetched")
    assert by_name["qwen2.5-coder-1.5b"].endswith("present")


def test_index_then_ask(tmp_path, capsys, monkeypatch, corpus, fake_embedder_everywhere):
    monkeypatch.setattr(rag.pipeline, "shared_generator", lambda settings: FakeGenerator(echo_passage(1)))
    where = ["--seeds", str(corpus), "--index", str(tmp_path / "index")]

    assert main(["index", *where]) == 0
    out = capsys.readouterr().out
    assert "3 added" in out and "is live" in out

    assert main(["index", "--dry-run", *where]) == 0
    out = capsys.readouterr().out
    assert "0 added" in out and "3 unchanged" in out and "would embed 0" in out

    assert main(["ask", "When was the Harbour Point lighthouse built?", *where]) == 0
    out = capsys.readouterr().out
    assert "Answer:" in out and "1871" in out and "Sources:" in out and "[1] lighthouse.md" in out

    assert main(["ask", "When was the Harbour Point lighthouse built?", "--json", *where]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert answer["abstained"] is False and "1871" in answer["answer"]
    assert answer["citations"][0]["source"] == "lighthouse.md"
