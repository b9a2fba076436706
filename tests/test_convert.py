"""The faster model copy: made once from the verified original, used only while intact."""
from __future__ import annotations

import json
import os

import pytest

from rag import convert
from rag.errors import ConfigError, ModelError


class FakeQuantize:
    """Writes a deterministic 'converted' file and counts how often it was asked to."""

    def __init__(self):
        self.calls = 0

    def __call__(self, src, dst, ftype):
        self.calls += 1
        dst.write_bytes(b"GGUF" + ftype.encode() + src.read_bytes()[::-1])


@pytest.fixture
def original(tmp_path):
    path = tmp_path / "model-q4_k_m.gguf"
    path.write_bytes(b"GGUF" + os.urandom(4096))
    return path


SHA = "a" * 64


def test_the_copy_is_made_once_then_reused(original):
    q = FakeQuantize()
    first = convert.make(original, SHA, "q8_0", quantize=q)
    assert first.name == "model-q4_k_m.q8_0.gguf" and first.is_file()
    side = json.loads(first.with_name(first.name + ".convert.json").read_text())
    assert side["source_sha256"] == SHA and side["ftype"] == "q8_0" and side["size"] == first.stat().st_size
    assert convert.make(original, SHA, "q8_0", quantize=q) == first
    assert q.calls == 1


def test_an_altered_copy_is_refused_and_made_again(original):
    q = FakeQuantize()
    copy = convert.make(original, SHA, "q8_0", quantize=q)
    good = copy.read_bytes()
    data = bytearray(good)
    data[10] ^= 0xFF                      # same size, different bytes, new file times
    copy.write_bytes(bytes(data))
    assert not convert.usable(copy, SHA, "q8_0")
    again = convert.make(original, SHA, "q8_0", quantize=q)
    assert q.calls == 2 and again.read_bytes() == good


def test_a_copy_of_another_original_or_build_is_not_used(original, monkeypatch):
    q = FakeQuantize()
    copy = convert.make(original, SHA, "q8_0", quantize=q)
    assert not convert.usable(copy, "b" * 64, "q8_0")            # made from another file
    monkeypatch.setattr(convert, "_llama_version", lambda: "0.0.0-other")
    assert not convert.usable(copy, SHA, "q8_0")                 # made by another llama.cpp
    convert.make(original, SHA, "q8_0", quantize=q)
    assert q.calls == 2


def test_a_copy_without_its_record_is_not_used(original):
    q = FakeQuantize()
    copy = convert.make(original, SHA, "q8_0", quantize=q)
    copy.with_name(copy.name + ".convert.json").unlink()
    assert not convert.usable(copy, SHA, "q8_0")
    convert.make(original, SHA, "q8_0", quantize=q)
    assert q.calls == 2


def test_the_same_bytes_with_new_file_times_are_checked_once_and_kept(original):
    q = FakeQuantize()
    copy = convert.make(original, SHA, "q8_0", quantize=q)
    os.utime(copy, ns=(1, 1))
    assert convert.usable(copy, SHA, "q8_0")
    assert q.calls == 1


def test_a_failed_conversion_leaves_nothing_behind(original):
    def broken(src, dst, ftype):
        dst.write_bytes(b"half")
        raise ModelError("llama.cpp could not convert")

    with pytest.raises(ModelError):
        convert.make(original, SHA, "q8_0", quantize=broken)
    assert sorted(p.name for p in original.parent.iterdir() if not p.name.endswith(".lock")) == [original.name]


def test_auto_picks_the_copy_only_on_builds_without_avx512(original, monkeypatch):
    monkeypatch.setattr(convert, "build_has_avx512", lambda: True)
    assert convert.wanted("auto") == "original"
    assert convert.for_this_cpu(original, SHA, "auto") == original
    monkeypatch.setattr(convert, "build_has_avx512", lambda: False)
    assert convert.wanted("auto") == "q8_0"
    assert convert.wanted("original") == "original"
    with pytest.raises(ConfigError):
        convert.wanted("q3")


def test_only_a_verified_original_is_converted(original, monkeypatch):
    monkeypatch.setattr(convert, "build_has_avx512", lambda: False)
    assert convert.for_this_cpu(original, None, "auto") == original        # a user's own GGUF: as it is
    with pytest.raises(ConfigError):
        convert.for_this_cpu(original, None, "q8_0")
