"""A number read as a measure: a share, a scale ('million'), money, and the word after it that says
what it counts. ``same_measure`` checks that a number of a claim is written in the statement as the
same measure ("12 tonnes" is not stated by "rose 12%", nor "12 patients" by "a fall of 12 mmHg")."""
from __future__ import annotations

import re

from .text import STOPWORDS, fold, numbers, shares_root, stem
from .wording import NUMBER_SPAN, TOKEN, number_kind


_SCALE = re.compile(r"million|billion|thousand|trillion", re.I)
_UNIT = re.compile(r"\s+([^\W\d_][\w-]*)")


_MONEY = re.compile(r"[$£€¥]\s?$|\b(?:USD|EUR|GBP|JPY|CNY|AUD)\s?$")
_CURRENCY = frozenset("dollars dollar euros euro pounds pound yen yuan".split())


def _measure(text: str, m: re.Match) -> tuple[bool, str, str, bool]:
    """(a share?, its scale word, the word after it that says what it counts or '', money?) of the
    number ``m`` of ``text``."""
    span = m.group(0)
    scale = _SCALE.search(span)
    unit = "" if text[m.end():m.end() + 1].isalnum() else (_UNIT.match(text, m.end()) or ["", ""])[1]
    unit = fold(unit) if unit and fold(unit) not in STOPWORDS else ""
    if not scale and _SCALE.fullmatch(unit):     # 'Billion' written with a capital
        scale, unit = _SCALE.fullmatch(unit), ""
    money, share = number_kind(span)[:2]
    money = money or bool(_MONEY.search(text[max(0, m.start() - 5):m.start()])) or unit in _CURRENCY
    return share, fold(scale.group(0)) if scale else "", unit, money


def same_measure(claim: str, statement: str, question: str) -> str:
    """'' unless a number the claim adds to the question is written in the statement only as another
    measure: a share for a count, another scale word ('million' for 'billion'), or another word right
    after it ('12 mmHg' for '12 patients'). A unit the statement leaves out, or writes before the
    number ('Tonnes: 4410'), or shortens ('km' for 'kilometres'), is the same measure."""
    asked = numbers(question)
    s_toks = [fold(t).strip(".,;:()") for t in TOKEN.findall(statement)]
    for m in NUMBER_SPAN.finditer(claim):
        value = numbers(m.group(0))
        if not value or value <= asked or number_kind(m.group(0))[2]:
            continue        # years and asked numbers are left alone
        ours = _measure(claim, m)
        found = [n for n in NUMBER_SPAN.finditer(statement) if numbers(n.group(0)) == value]
        theirs = [_measure(statement, n) for n in found]
        if found and not any(_same_measure(ours, t, *_around(statement, n, s_toks)) for n, t in zip(found, theirs)):
            unit, s_unit = ours[2], theirs[0][2]
            return f"the passage writes {found[0].group(0)}{f' {s_unit}' if s_unit else ''}, not " \
                   f"{m.group(0)}{f' {unit}' if unit else ''}"
    return ""


def _around(text: str, m: re.Match, toks: list[str]) -> tuple[list[str], list[str]]:
    """The words of ``text`` up to four before the number ``m`` and three after it, stop words left out."""
    at = len(TOKEN.findall(text[:m.start()]))
    end = at + len(TOKEN.findall(m.group(0)))
    return ([w for w in toks[max(0, at - 4):at] if w not in STOPWORDS],
            [w for w in toks[end:end + 3] if w not in STOPWORDS])


def _same_measure(ours: tuple, theirs: tuple, before: list[str], after: list[str]) -> bool:
    (share, scale, unit, money), (s_share, s_scale, s_unit, s_money) = ours, theirs
    if share != s_share or scale != s_scale or (money and not s_money and s_unit):
        return False          # '$12 million' is not '12 million workers'
    # the unit as written before the number ('Tonnes: 4410'), or shortened or after a word ('metric tons')
    return not unit or not s_unit or shares_root({stem(unit)}, {stem(w) for w in [s_unit] + before + after}) \
        or any(w[:1] == unit[:1] for w in [s_unit] + after)
