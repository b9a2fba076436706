"""The model reads its own answer back: does the cited passage state it, as an answer to the question?

After the draft, the conversation goes on with one more user turn asking exactly that, and the
probability of "yes" against "no" is read from the model's logits for the next word. The prompt up
to the draft is already in llama.cpp's KV cache, so a check costs only its few new tokens.
"""
from __future__ import annotations

from dataclasses import dataclass

from . import prompt as prompts
from .evidence import Passage

QUESTION = ("Check your reply against passage [{n}] alone. Does passage [{n}] state this, and does it answer "
            "the question? Reply yes or no.")


@dataclass
class Judgement:
    p_yes: float | None          # None when the generator cannot read probabilities


def judge(generator, question: str, passages: list[Passage], reply: str, n: int) -> Judgement:
    """How likely the model finds it that passage ``n`` states ``reply`` as the answer to ``question``."""
    probabilities = getattr(generator, "choice_probabilities", None)
    if probabilities is None:
        return Judgement(None)
    messages = prompts.build(question, passages) + [
        {"role": "assistant", "content": reply},
        {"role": "user", "content": QUESTION.format(n=n)},
    ]
    p = probabilities(generator.render(messages), ["yes", "no"])
    return Judgement(None if p is None else p["yes"])
