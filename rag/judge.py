"""The model as a second reader of a claim: shown only the statement the verifier found, which fact
of that statement does it find likeliest in the claim's place, the claim's or another of its kind?

(Asking the model outright whether the passage states the claim, and reading P("yes") from its
logits, was measured on the written claim cases and does not separate true from false claims with
the 0.5B model: AUC 0.60 and 0.44 for two wordings. A relative choice among the statement's own
facts is what a small model does well.)
"""
from __future__ import annotations

from dataclasses import dataclass

from . import prompt as prompts
from .evidence import Passage
from .index import Location


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
