from pathlib import Path

import pytest

from rag.config import Settings
from rag.errors import ConfigError


def test_defaults_are_valid():
    s = Settings()
    assert 16 <= s.chunk_tokens <= 254 and s.chunk_overlap_tokens < s.chunk_tokens
    assert 1 <= s.top_k <= s.candidates and s.threads >= 1


@pytest.mark.parametrize("changes", [
    {"chunk_tokens": 15, "chunk_overlap_tokens": 4},
    {"chunk_tokens": 255},
    {"chunk_tokens": 40, "chunk_overlap_tokens": 40},
    {"top_k": 0},
    {"top_k": 30, "candidates": 20},
    {"threads": 0},
])
def test_bad_settings_are_config_errors(changes):
    with pytest.raises(ConfigError):
        Settings(**changes)


@pytest.mark.parametrize("chunk_tokens", [16, 254])
def test_chunk_size_limits_are_inclusive(chunk_tokens):
    assert Settings(chunk_tokens=chunk_tokens, chunk_overlap_tokens=8).chunk_tokens == chunk_tokens


def test_paths_are_expanded():
    s = Settings(seeds_dir="~/docs", index_dir="idx")
    assert s.seeds_dir == Path.home() / "docs" and isinstance(s.index_dir, Path)


def test_environment_overrides_defaults_and_flags_override_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("RAG_SEEDS_DIR", str(tmp_path / "env-seeds"))
    monkeypatch.setenv("RAG_TOP_K", "3")
    monkeypatch.setenv("RAG_THREADS", "2")
    s = Settings.from_env(index_dir=None, top_k=None)
    assert (s.seeds_dir, s.top_k, s.threads) == (tmp_path / "env-seeds", 3, 2)
    s = Settings.from_env(seeds_dir=tmp_path / "flag-seeds", top_k=4)
    assert (s.seeds_dir, s.top_k) == (tmp_path / "flag-seeds", 4)


@pytest.mark.parametrize("var, value", [("RAG_TOP_K", "many"), ("RAG_THREADS", "2.5")])
def test_a_bad_number_in_the_environment_is_a_config_error(monkeypatch, var, value):
    monkeypatch.setenv(var, value)
    with pytest.raises(ConfigError, match=var):
        Settings.from_env()


def test_unknown_settings_are_rejected():
    with pytest.raises(ConfigError, match="chunk_size"):
        Settings.from_env(chunk_size=100)


def test_with_ignores_none():
    s = Settings().with_(top_k=None, candidates=30)
    assert s.top_k == Settings().top_k and s.candidates == 30
