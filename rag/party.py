"""Whose it is: checks that a statement says the claim's fact of the claim's own party, not of
another one it names. Each gives a reason when it fails, '' when it passes.

- ``role_of_another``: the statement names the claim's relation as a role of another party ("Gamma's
  founder" does not say who founded Acme, "Las Vegas Raiders president" who is president of the NFL).
- ``for_another``: the claim repeats what the question says its fact is for ("for permanent magnets"),
  and the statement gives it for something else ("a $110 floor for NdPr").
- ``names_the_doer``: an act the statement names only as a noun ("after the acquisition of B") does
  not say who did it ("A acquired B").
- ``done_by_another``: asked who did something, a statement that says it was done *by* a name does
  not say the claim's name did it ("directed by Christophe Gans and written by Roger Avary").
- ``said_in_brackets``: what brackets hold is said of what they follow ("Niantic (CEO: John Hanke)
  and Nintendo" does not say who Nintendo's CEO is).
- ``swapped_name``: the claim is a sentence of the passage with one name put in place of another
  ("Tomas Berg won the 2015 Orrin Prize" from "Lena Holt won the 2015 Orrin Prize").

``another_in_its_place`` reads the answer against the question: it must not name something else
where the question names what it asks about ("in the United States" for "in Australia").
"""
from __future__ import annotations

import re
from difflib import SequenceMatcher

from .relation import BE
from .text import STOPWORDS, fold, mentioned, said_in_any_form, shares_root, stem, verb_stem, words
from .wording import TOKEN, name_runs, name_token_runs, names_a_date, same_word


_DETERMINERS = frozenset("the a an this that its his her their".split())
_POSSESSIVE = frozenset("its his her their".split())
# Verbs that make a noun of an act the subject's own act ('Acme completed the acquisition of Gamma').
_LIGHT = frozenset("make take give have hold conduct perform carry complete finalis finaliz undertak lead".split())
_AUXILIARY = frozenset("has had have".split())


def doer_act(claim: str) -> tuple[str, str, bool] | None:
    """(who, the verb of the act, has it an object?) of a claim that opens with a name doing something
    in the past ('Kessler Bank acquired Norrin Labs'); None for any other claim ('Abe was assassinated',
    'The award winner is …')."""
    c_raw = TOKEN.findall(claim)
    runs = name_token_runs(claim)
    if not runs or runs[0][0] > 1 or (runs[0][0] == 1 and fold(c_raw[0]) != "the"):
        return None
    _, end, doer = runs[0]
    c_toks = [fold(t).strip(".,;:") for t in c_raw]
    # the doer's common nouns after its name ('The Arab troops defeated …', 'The Kessler board approved …')
    while end < min(len(c_toks), runs[0][1] + 2) and c_toks[end] not in STOPWORDS and c_toks[end].isalpha() \
            and not _past(c_toks[end]):
        end += 1
    at = end + 1 if c_toks[end:end + 1] and c_toks[end] in _AUXILIARY else end
    verb = c_toks[at] if at < len(c_toks) else ""
    if not _past(verb) or verb in BE:
        return None
    # 'resigned as mayor' has no object: 'the resignation of Ida Brandt' says who resigned
    transitive = at + 1 < len(c_toks) and c_toks[at + 1] not in _PLACE_PREP | {"as", "after", "over", "following"}
    return doer, verb, transitive


def _past(word: str) -> bool:
    return word.endswith("ed") or verb_stem(word) != stem(word)


def names_the_doer(claim: str, statement: str) -> str:
    """'' unless the claim makes a name the doer of an act ('Kessler Bank acquired Norrin Labs') that
    the statement names only as a noun ('the acquisition of Norrin Labs', 'after the assassination of
    Shinzo Abe') without saying who did it: no 'by Kessler Bank', no 'Kessler Bank's acquisition', no
    'Kessler Bank completed its acquisition'. Naming an act is not saying who did it."""
    act = doer_act(claim)
    if act is None:
        return ""
    doer, verb, transitive = act
    s_toks = [fold(t).strip(".,;:()") for t in TOKEN.findall(statement)]
    doer_words = set(doer.split())
    subject = next((run for _, run in name_runs(statement)), "")

    def by_doer(j: int) -> bool:
        before = s_toks[max(0, j - 3):j]
        if any(t.endswith(("'s", "’s")) and t.removesuffix("'s").removesuffix("’s") in doer_words for t in before):
            return True                 # 'Kessler Bank's acquisition of …'
        after = s_toks[j + 1:j + 16]
        if not transitive and after[:1] == ["of"] and doer_words & set(after[1:5]):
            return True                 # 'the resignation of Mayor Ida Brandt': who resigned
        if "by" in after and doer_words & set(after[after.index("by") + 1:after.index("by") + 4]):
            return True                 # 'the acquisition of Norrin Labs by Kessler Bank'
        hands = next((k for k in range(len(after) - 2) if after[k] in ("hand", "hands") and after[k + 1] == "of"), None)
        if hands is not None and doer_words & set(after[hands + 2:hands + 5]):
            return True                 # 'the defeat of the Arab troops at the hands of the Israeli army'
        owner_is_doer = doer_words & set(subject.split())
        light = any(verb_stem(t) in _LIGHT or stem(t) in _LIGHT for t in s_toks[max(0, j - 4):j])
        return bool(owner_is_doer) and (light or bool(_POSSESSIVE & set(before)))

    found = [j for j, t in enumerate(s_toks) if t and shares_root({verb_stem(verb)}, {stem(t)})]
    # a noun: after a determiner or a possessive, or before 'of' ('the quick and decisive defeat of …')
    nouns = [j for j in found if not s_toks[j].endswith("ed") and (
        (j > 0 and (s_toks[j - 1] in _DETERMINERS or s_toks[j - 1].endswith(("'s", "’s"))))
        or s_toks[j + 1:j + 2] == ["of"])]
    if not found or len(nouns) < len(found) or any(by_doer(j) for j in nouns):
        return ""
    return f"the passage names the {s_toks[nouns[0]]} but does not say that {doer} did it"


def done_by_another(question: str, new: set[str], statement: str) -> str:
    """'' unless the question asks who did something ('Who directed …?', 'Who is the director …?'), the
    statement says it was done *by* a name, and the name the claim gives as its answer (``new``) is not
    among those it was done by: 'a film directed by Christophe Gans and written by Roger Avary' does
    not say Roger Avary is the director ('described by Taqi al-Din in 1551 and by Giovanni Branca'
    names both)."""
    q_toks = [fold(t) for t in TOKEN.findall(question)]
    if q_toks[:1] != ["who"]:
        return ""
    act = next((t for t in q_toks[1:] if t.isalpha() and t not in STOPWORDS), "")     # 'directed', 'director'
    if not act:
        return ""
    act = verb_stem(act)
    toks = [fold(t).strip(".,;:()'’").removesuffix("'s") for t in TOKEN.findall(statement)]
    names = {start: name for start, _, name in name_token_runs(statement)}
    for i in range(1, len(toks) - 1):
        if toks[i] != "by" or i + 1 not in names or not said_in_any_form(act, {verb_stem(toks[i - 1])}):
            continue
        # those it was done by: up to another act's 'by' ('… and written by …'), not past a second 'and by'
        end = next((j for j in range(i + 1, len(toks)) if toks[j] == "by" and toks[j - 1] not in ("and", "or")),
                   len(toks))
        if not any(mentioned(w, set(toks[i + 1:end])) for w in new):
            return f"the passage says it was {toks[i - 1]} by {names[i + 1]}"
    return ""


_PLACE_PREP = frozenset("in on at for to from by with".split())
_ARTICLES = frozenset("the a an".split())


def another_in_its_place(question: str, claim: str) -> str:
    """'' unless the question names something after a preposition ('invest in Australia'), the claim
    leaves it out and names something else after the same preposition ('invest … in the United
    States'): the claim is about another place, party or thing than the one asked about."""
    q_raw, c_raw = TOKEN.findall(question), TOKEN.findall(claim)
    q_names = [(start, run) for start, run in name_runs(question) if start > 0]
    c_words = set(words(claim.replace(".", "")))
    q_words = set(words(question.replace(".", "")))
    for start, run in q_names:
        prep = fold(q_raw[start - 1]) if start else ""
        if prep not in _PLACE_PREP or any(mentioned(w, c_words) for w in run.split()):
            continue
        for c_start, c_run in name_runs(claim):
            before = [fold(t) for t in c_raw[max(0, c_start - 2):c_start]]
            if before[-1:] == [prep] or (len(before) == 2 and before[0] == prep and before[1] in _ARTICLES):
                if c_start and not any(mentioned(w, q_words) for w in c_run.split()) \
                        and names_a_date(c_run) <= names_a_date(run):      # a month only in place of a month
                    return f"it says {prep} {c_run}, where the question asks about {run}"
    return ""


def _joined(owner: str, start: int, toks: list[str], ending: dict[int, tuple[int, str]]) -> str:
    """``owner`` with the names joined to it by 'and' before it, which share the role that follows
    them: 'Titanic and Avatar director James Cameron' directed Titanic as well."""
    while start > 1 and fold(toks[start - 1]) in ("and", "&") and start - 1 in ending:
        start, name = ending[start - 1]
        owner = f"{name} {owner}"
    return owner


_ROLE_NOUN = re.compile(r"(?:er|or|ent|ant|ist|ian)$")
# Possessives that give a role to the party the sentence opened with ('their new team president').
_OWNING = frozenset("its their".split())


def role_of_another(relation: set[str], statement: str, names: set[str]) -> str:
    """'' unless the statement says a word of the claim's ``relation`` as a role that belongs to a
    party the claim does not name (none of ``names``): 'Gamma's founder' for 'Rosa Alvarez founded Acme
    Corp', 'Las Vegas Raiders president' for 'The president of the NFL is …'. A word after a name
    without "'s" is read so only when it is a noun of a doer ('-er', '-ent', …). ('The founder of Gamma'
    is not read: after 'of', a capitalised word may as well begin a description, 'of the American
    crime series …'.) Every mention of the role must be another's: 'the capitals of Kraków and Vilnius …,
    Warsaw became the capital of …' still says it of Warsaw. A doer's noun after 'its' or 'their' is the
    role of the first party named before it ('The Las Vegas Raiders hired Sandra Douglass Morgan as their
    new team president' does not say she is president of the NFL)."""
    toks = TOKEN.findall(statement)
    runs = name_token_runs(statement)
    ending = {end: (start, name) for start, end, name in runs}   # names by the token after them
    others = []          # the roles said of another party; one said of no one or of a party named is enough
    for i, tok in enumerate(toks):
        word = fold(tok).strip(".,;:()'’")
        if not tok[:1].islower() or not any(said_in_any_form(r, {verb_stem(word)}) for r in relation):
            continue
        start, owner = ending.get(i, (i, ""))
        if not owner and _ROLE_NOUN.search(word) and _OWNING & {fold(t) for t in toks[max(0, i - 3):i]}:
            owner = next((run for at, _, run in runs if at < i), "")    # 'The Raiders hired … as their new team president'
            written = owner
        elif owner and (toks[i - 1].endswith(("'s", "’s")) or (i > 1 and _ROLE_NOUN.search(word))):
            written = " ".join(t.removesuffix("'s").removesuffix("’s") for t in toks[start:i])
        else:
            return ""
        if not owner or any(mentioned(w, names) for w in _joined(owner, start, toks, ending).split()):
            return ""
        others.append(f"the {tok.strip('.,;:()')} of {written}")
    return f"the passage speaks of {others[0]}, not of a party the claim names" if others else ""


def for_another(claim: str, statement: str, question: str) -> str:
    """'' unless the claim repeats from the question what its fact is for ('… for permanent magnets'),
    the statement does not say it, and says the fact for something else after the same word ('a $110
    floor for NdPr')."""
    c_toks = [fold(t).strip(".,;:()") for t in TOKEN.findall(claim)]
    s_toks = [fold(t).strip(".,;:()") for t in TOKEN.findall(statement)]
    q_set, s_set, c_set = set(words(question)), set(s_toks), set(c_toks)
    for i, tok in enumerate(c_toks[:-1]):
        if tok not in _PLACE_PREP:
            continue
        filler = [w for w in c_toks[i + 1:i + 4] if w not in _ARTICLES]
        filler = filler[:next((k for k, w in enumerate(filler) if w in STOPWORDS), len(filler))]
        if not filler or not all(w in q_set and w not in s_set for w in filler):
            continue
        for j, other in enumerate(s_toks[:-1]):
            after = next((w for w in s_toks[j + 1:j + 3] if w not in _ARTICLES), "")
            if other == tok and after and after not in c_set and after not in STOPWORDS \
                    and not any(ch.isdigit() for ch in after):
                return f"the passage says it {tok} {after}, not {tok} {' '.join(filler)}"
    return ""


# A bracketed aside, in Latin or full-width brackets: '(1868–1944)', '（CEO: John Hanke）'.
_BRACKETS = re.compile(r"[(（\[]([^()（）\[\]]*)[)）\]]")


def said_in_brackets(claim: str, new: set[str], names: set[str], sentence: str) -> str:
    """'' unless a fact of the claim (of ``new``) stands in the sentence only inside brackets, which say
    it of the last name before them, and the claim does not name that party ('Ilse Varga (born 1931)
    and Tomas Brenn' gives Ilse Varga's year) or, when no name comes before them in the sentence, names
    a party outside them ('… (CEO: John Hanke) and Nintendo' does not say who Nintendo's CEO is)."""
    claim_words = set(words(claim))
    for m in _BRACKETS.finditer(sentence):
        inner = set(words(m.group(1)))
        rest = set(words(sentence[:m.start()] + " " + sentence[m.end():]))
        held = {x for x in new if same_word(x, inner) and not same_word(x, rest)}
        if not held:
            continue
        before = name_runs(sentence[:m.start()])
        owner = before[-1][1] if before else ""
        if owner and not all(mentioned(w, claim_words) for w in owner.split()):
            party = owner
        elif not owner:
            party = next((n for n in sorted(names - held) if not same_word(n, inner)), "")
        else:
            continue
        if party:
            first = min(held)
            fact = next((run for _, run in name_runs(claim) if first in run.split()), first)
            return f"the passage gives {fact} in brackets, of {owner or 'what comes before them'}"
    return ""


# The words of the sentence a claim copies that must stand around the swapped name.
MIN_FRAME_WORDS = 4


def swapped_name(claim: str, sentence: str, lower: set[str]) -> str:
    """'' unless ``claim`` is ``sentence`` with one whole name of it replaced by another name that
    shares no word with it ('Nintendo is a Japanese businessman' from 'Shuntaro Furukawa is a Japanese
    businessman'): the sentence says it of another party. Other wording may differ; a pronoun, a
    fuller or shorter form of the name ('Zhao', 'Chloé Zhao'), its initials ('U.S.') or another spelling
    of a month ('Nov') are the same party; a sentence that names both parties is left to the other checks."""
    c = [fold(t).strip(".,;:'’") for t in TOKEN.findall(claim)]
    s = [fold(t).strip(".,;:'’") for t in TOKEN.findall(sentence)]
    c_runs = {(a, b): name for a, b, name in name_token_runs(claim, lower)}
    s_runs = {(a, b): name for a, b, name in name_token_runs(sentence, lower)}
    ops = SequenceMatcher(None, c, s, autojunk=False).get_opcodes()
    if sum(i2 - i1 for tag, i1, i2, _, _ in ops if tag == "equal") < MIN_FRAME_WORDS:
        return ""
    swaps = [(c_runs[i1, i2], s_runs[j1, j2]) for tag, i1, i2, j1, j2 in ops
             if tag == "replace" and (i1, i2) in c_runs and (j1, j2) in s_runs]
    for ours, theirs in swaps:
        a, b = ours.split(), theirs.split()
        if any(same_word(w, set(b)) for w in a) or any(same_word(w, set(a)) for w in b) or _initials(a, b):
            continue
        # a sentence naming both parties ('A won the women's title and B the men's') is left to the checks above
        if not any(mentioned(w, set(c)) for w in b) and not any(mentioned(w, set(s)) for w in a):
            return f"the passage says this of {theirs}, not of {ours}"
    return ""


def _initials(a: list[str], b: list[str]) -> bool:
    """Is one name the other's initials ('us' and 'united states')?"""
    return "".join(a) == "".join(w[0] for w in b) or "".join(b) == "".join(w[0] for w in a)
