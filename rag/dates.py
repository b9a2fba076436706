"""Dates in an answer made as precise as the quote it cites.

A small model often shortens a date it copies: the quote says "released on December 1, 2017" and
the answer says "released on December 1". When a date in an answer is part of exactly one fuller
date in the cited quotes (same month and day, or same month and year), the answer takes the
quote's wording of it. Nothing is added that the quote does not say verbatim.
"""
from __future__ import annotations

import re

_MONTH = (r"(?P<{g}>Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|"
          r"Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)\.?")
_DAY = r"(?P<{g}>[0-3]?\d)(?:st|nd|rd|th)?"
_YEAR = r"(?P<{g}>(?:1[5-9]|2[0-2])\d\d)"

# A full date: 'December 1, 2017', 'Dec. 1st 2017', '1 December 2017', '1st of December, 2017'.
_FULL = re.compile(
    r"\b(?:" + _MONTH.format(g="m1") + r"\s+" + _DAY.format(g="d1") + r",?\s+" + _YEAR.format(g="y1")
    + r"|" + _DAY.format(g="d2") + r"\s+(?:of\s+)?" + _MONTH.format(g="m2") + r",?\s+" + _YEAR.format(g="y2")
    + r")\b")
# A date missing its year or its day: 'December 1', '1st December', 'December 2017'.
_PARTIAL = re.compile(
    r"\b(?:" + _MONTH.format(g="m1") + r"\s+" + _DAY.format(g="d1")
    + r"|" + _DAY.format(g="d2") + r"\s+(?:of\s+)?" + _MONTH.format(g="m2")
    + r"|" + _MONTH.format(g="m3") + r",?\s+(?:of\s+)?" + _YEAR.format(g="y3")
    + r")\b(?!,?\s*(?:\d|(?:of\s+)?(?:19|20)\d\d))")


_DAY_BEFORE = re.compile(r"\b[0-3]?\d(?:st|nd|rd|th)?\s+(?:of\s+)?$")


_MONTH_YEAR = re.compile(r"\b" + _MONTH.format(g="m") + r",?\s+(?:of\s+)?" + _YEAR.format(g="y") + r"\b")


def full_dates(text: str) -> list[str]:
    """The dates in ``text`` that name a year with their month ('December 1, 2017', 'May 2012')."""
    return [m.group(0) for m in _FULL.finditer(text)] + [m.group(0) for m in _MONTH_YEAR.finditer(text)]


_MONTH_NAMES = "january february march april may june july august september october november december".split()
# Month names and their abbreviations, folded, to the month's number ('nov' and 'november' -> 11).
MONTHS = {m: i for i, m in enumerate(_MONTH_NAMES, 1)} | {m[:3]: i for i, m in enumerate(_MONTH_NAMES, 1)} | {"sept": 9}


def _month(text: str) -> int:
    return MONTHS[text.lower()]


def _parts(m: re.Match) -> tuple[int, int | None, int | None]:
    g = m.groupdict()
    month = next(g[k] for k in ("m1", "m2", "m3") if k in g and g[k])
    day = next((g[k] for k in ("d1", "d2") if k in g and g[k]), None)
    year = next((g[k] for k in ("y1", "y2", "y3") if k in g and g[k]), None)
    return _month(month), int(day) if day else None, int(year) if year else None


def complete(answer: str, quote: str) -> str:
    """``answer`` with each partial date replaced by the one full date of ``quote`` it is part of."""
    full = [(m.group(0), _parts(m)) for m in _FULL.finditer(quote)]
    if not full:
        return answer

    def repl(m: re.Match) -> str:
        if _DAY_BEFORE.search(m.string, 0, m.start()):
            return m.group(0)      # 'September 2023' inside '26 September 2023': already complete
        month, day, year = _parts(m)
        matches = {text for text, (fm, fd, fy) in full
                   if fm == month and (day is None or fd == day) and (year is None or fy == year)}
        if len(matches) != 1 or not 1 <= (day or 1) <= 31:
            return m.group(0)
        return matches.pop()

    return _PARTIAL.sub(repl, answer)
