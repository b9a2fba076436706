"""Questions scoped to chosen documents: which documents a list of paths, folders or patterns names.

Every entry is relative to the corpus folder and uses ``/``:

* a document's path (``notes/bakery.txt``) names that document;
* a folder (``notes`` or ``notes/``) names every document under it;
* an e-mail's path (``inbox/boiler.eml``) names the message and its text attachments, each of
  which is a document of its own (``inbox/boiler.eml/notes.txt`` names that attachment alone);
* a pattern with ``*``, ``?`` or ``[…]`` is matched like a shell glob: ``*`` and ``?`` stay within
  one folder, ``**`` crosses folders (``reports/**/*.pdf``). A pattern without ``/`` is matched
  against the file name too, so ``*.pdf`` names every PDF wherever it is.

The search itself applies the scope (see ``Retriever.search``): the k passages found all come
from the chosen documents.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Iterable

from .errors import ConfigError

_GLOB = re.compile(r"[*?\[]")


class ScopeError(ConfigError):
    """A scope that names no indexed document, or an entry that is not a path or pattern."""


@dataclass(frozen=True)
class Scope:
    patterns: tuple[str, ...]       # as given (cleaned)
    sources: frozenset[str]         # the indexed documents they name

    def __contains__(self, source: str) -> bool:
        return source in self.sources

    def describe(self) -> str:
        return ", ".join(self.patterns)


def clean(sources) -> tuple[str, ...]:
    """The scope entries of ``sources`` (None, one string, or a list of strings), without blanks."""
    if sources is None:
        return ()
    if isinstance(sources, str):
        sources = [sources]
    out = []
    for entry in sources:
        if not isinstance(entry, str):
            raise ScopeError(f"a document scope is a path or a glob pattern, not {type(entry).__name__}")
        entry = entry.strip().replace("\\", "/")
        while entry.startswith("./"):
            entry = entry[2:]
        entry = entry.lstrip("/")
        if entry and entry not in out:
            out.append(entry)
    return tuple(out)


@lru_cache(maxsize=256)
def _regex(pattern: str) -> re.Pattern:
    out, i = [], 0
    while i < len(pattern):
        ch = pattern[i]
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
            continue
        if pattern.startswith("**", i):
            out.append(".*")
            i += 2
            continue
        if ch == "*":
            out.append("[^/]*")
        elif ch == "?":
            out.append("[^/]")
        elif ch == "[":
            end = pattern.find("]", i + 2 if pattern[i + 1:i + 2] in ("!", "]") else i + 1)
            if end < 0:
                out.append(re.escape(ch))
            else:
                body = pattern[i + 1:end]
                if body.startswith("!"):
                    body = "^" + body[1:]
                out.append(f"[{body.replace(chr(92), chr(92) * 2)}]")
                i = end
        else:
            out.append(re.escape(ch))
        i += 1
    return re.compile("".join(out) + r"\Z", re.S)


def matches(pattern: str, source: str) -> bool:
    """Does the scope entry ``pattern`` name the document ``source`` (a corpus-relative path)?"""
    if not _GLOB.search(pattern):
        folder = pattern.rstrip("/")
        return source == folder or source.startswith(folder + "/")
    if _regex(pattern).match(source):
        return True
    return "/" not in pattern and bool(_regex(pattern).match(source.rsplit("/", 1)[-1]))


def resolve(sources, documents: Iterable[str]) -> Scope | None:
    """The ``Scope`` that ``sources`` names among ``documents``, or None for no scope (everything).

    Raises ``ScopeError`` when the entries name no document."""
    patterns = clean(sources)
    if not patterns:
        return None
    documents = list(documents)
    chosen = frozenset(d for d in documents if any(matches(p, d) for p in patterns))
    if not chosen:
        shown = ", ".join(repr(p) for p in patterns)
        raise ScopeError(f"the scope {shown} matches none of the {len(documents):,} indexed documents; "
                         "give paths relative to the corpus folder (e.g. notes/*.txt)")
    return Scope(patterns, chosen)
