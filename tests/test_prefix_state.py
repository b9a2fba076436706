"""The prompt's fixed part saved as llama.cpp state: loaded when it matches, refused when it does not
(real 0.5B model)."""
from __future__ import annotations

import json

import pytest

from rag import models, prefix_state, prompt
from rag.config import REPO_ROOT
from rag.generate import GenerationStats, LlamaCppGenerator

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def model_path():
    return models.resolve("default", REPO_ROOT / "models")[1]


def make(model_path, state_dir):
    return LlamaCppGenerator(model_path, state_dir=state_dir, threads=2)


def answer(gen) -> tuple[str, GenerationStats]:
    messages = prompt.prefix_messages() + [{"role": "user", "content":
                                            "<passages>\n[1] The mill opened in 1871 on the river Aire.\n</passages>\n"
                                            "Question: When did the mill open?"}]
    stats = GenerationStats()
    text = "".join(gen.stream(gen.render(messages), max_tokens=24, timeout_s=60, stats=stats))
    return text, stats


def saved_state(model_path, state_dir):
    """(the prompt's fixed part, the state file) after one generator primed and saved it."""
    gen = make(model_path, state_dir)
    fixed = prompt.fixed_part(gen)
    gen.prime(fixed)
    gen.close()
    (path,) = state_dir.glob("prefix-*.kv")
    return fixed, path


def test_a_saved_state_is_loaded_by_the_next_process_and_answers_the_same(model_path, tmp_path):
    first = make(model_path, tmp_path)
    fixed = prompt.fixed_part(first)
    assert first.prime(fixed) == "read"
    text1, _ = answer(first)
    first.close()
    second = make(model_path, tmp_path)
    assert second.prime(fixed) == "loaded"
    n_fixed = second.count_tokens(fixed) + 1                     # + the BOS token
    text2, stats = answer(second)
    second.close()
    assert text2 == text1 and "1871" in text1
    assert stats.cached_tokens >= n_fixed - 1 > 300             # the loaded prefix was not read again


def test_a_damaged_state_is_refused_and_saved_again(model_path, tmp_path):
    fixed, path = saved_state(model_path, tmp_path)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    again = make(model_path, tmp_path)
    assert again.prime(fixed) == "read"
    text, _ = answer(again)
    again.close()
    assert "1871" in text
    side = json.loads(path.with_name(path.name + ".json").read_text())
    assert prefix_state.check(path, {k: side[k] for k in side if not k.startswith("state_")}) is not None


def test_a_state_made_elsewhere_or_for_another_prompt_is_not_used(model_path, tmp_path):
    fixed, path = saved_state(model_path, tmp_path)
    sidecar = path.with_name(path.name + ".json")
    side = json.loads(sidecar.read_text())
    side["llama_cpp"] = "0.0.1"                      # another llama.cpp build made it
    sidecar.write_text(json.dumps(side))
    other = make(model_path, tmp_path)
    assert other.prime(fixed) == "read"
    other.close()
    changed = make(model_path, tmp_path)
    assert changed.prime(fixed.replace("only the numbered passages", "only the passages")) == "read"
    changed.close()
