"""JSON-lines files the user hands over (QA sets, question lists, claim cases, read labels): read
one record per line, and a file or line that is not one is a one-line ConfigError naming it."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Callable, TypeVar

from .errors import ConfigError

T = TypeVar("T")


def json_lines(path: Path, kind: str, build: Callable[[dict], T], file_kind: str | None = None) -> list[T]:
    """``build(record)`` for each non-blank line of ``path``, in order. A line that is not JSON, or
    that ``build`` cannot take (a missing field, a wrong type), is reported as '<path> line N is not a
    <kind> record (why)'; a file that cannot be read as 'cannot read <file_kind or kind> file …'."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ConfigError(f"cannot read {file_kind or kind} file {path}: {exc.strerror}") from None
    out = []
    for i, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            out.append(build(json.loads(line)))
        except (ValueError, KeyError, TypeError) as exc:
            raise ConfigError(f"{path} line {i} is not a {kind} record ({exc})") from None
    return out
