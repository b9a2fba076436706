"""The model as a second reader of a claim, two ways:

- ``judge``: after the draft, one more user turn asks whether the cited passage states it as the
  answer, and P("yes") against P("no") is read from the logits (the prompt up to the draft is in
  llama.cpp's KV cache, so it costs only the new tokens).
- ``fills_gap``: shown only the statement the verifier found, which fact of the statement does the
  model find likeliest in the claim's place: the claim's, or another of the same kind it gives?
"""
from __future__ import annotations

from dataclasses import dataclass

from . import prompt as prompts
from .evidence import Passage
from .index import Location

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


@dataclass
class Fill:
    fact: str                    # the claim's fact, as it writes it
    margin: float                # log-probability of the best other fact minus the claim's (> 0: another fits better)
    best: str                    # the other fact that fits best


def fills_gap(generator, question: str, statement: str, claim: str, fact: str, others: list[str]) -> Fill | None:
    """Shown only ``statement`` and asked ``question``, which does the model find likelier after the
    claim's words before its fact: the claim's fact, or another fact of the same kind the statement
    gives ('Harbor City won …' against 'Oakridge United won …' for 'Oakridge United beat Harbor City')?
    None when the generator cannot score text or there is nothing to compare."""
    score = getattr(generator, "continuation_logprobs", None)
    at = claim.find(fact)
    if score is None or not others or at < 0:
        return None
    passage = Passage(1, statement, Location("", 0, len(statement)))
    prompt = generator.render(prompts.build(question, [passage])) + claim[:at]
    own, *rest = score(prompt, [fact] + others)
    i = max(range(len(rest)), key=rest.__getitem__)
    return Fill(fact, rest[i] - own, others[i])
