"""Web pages (and e-book chapters) as text: one line per block element, table rows with their
header ("Port: Valdoria; Cranes: 37"), and a region per heading naming its heading path
("Installation › Linux")."""
from __future__ import annotations

import re

from .documents import UnreadableDocument
from .regions import Region, heading_path
from .tables import table_lines

_DROP = ("script", "style", "noscript", "template", "head", "meta", "link", "title", "iframe", "object",
         "embed", "svg", "canvas")
_BLOCKS = {
    "address", "article", "aside", "blockquote", "body", "caption", "dd", "details", "dialog", "div", "dl",
    "dt", "fieldset", "figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "header",
    "hgroup", "hr", "html", "legend", "li", "main", "nav", "ol", "p", "pre", "section", "summary", "table",
    "tbody", "td", "tfoot", "th", "thead", "tr", "ul",
}
_HEADINGS = ("h1", "h2", "h3", "h4", "h5", "h6")
_MARK = re.compile(r"\x02([1-6])\x03")     # put before a heading's text, taken out again below
MAX_COLSPAN = 100


def html_parts(data: bytes, top: str = "", title: str = "") -> tuple[str, tuple[Region, ...]]:
    """Visible text of an HTML page: one line per block element, whitespace inside a line
    collapsed; and a region for each heading (its path, under ``top`` when given; a heading that
    repeats ``title``, the name ``top`` already gives, is left out of the path)."""
    import warnings

    from bs4 import BeautifulSoup, Comment, Declaration, Doctype, ProcessingInstruction, XMLParsedAsHTMLWarning

    try:
        with warnings.catch_warnings():     # XHTML (e-book chapters) is read as HTML on purpose
            warnings.simplefilter("ignore", XMLParsedAsHTMLWarning)
            soup = BeautifulSoup(data, "lxml")
    except Exception as exc:  # lxml is lenient; this is for truly broken input
        raise UnreadableDocument(f"malformed HTML ({type(exc).__name__})") from None
    for tag in soup.find_all(_DROP):
        tag.decompose()
    for node in soup.find_all(string=lambda s: isinstance(s, (Comment, Declaration, Doctype,
                                                              ProcessingInstruction))):
        node.extract()
    for br in soup.find_all("br"):
        br.replace_with("\n")
    for table in reversed(soup.find_all("table")):    # inner tables first: they become text of a cell
        table.replace_with("\n" + "\n".join(table_lines(_table_rows(table))) + "\n")
    for tag in soup.find_all(_HEADINGS):
        tag.insert(0, f"\x02{tag.name[1]}\x03")
    for tag in soup.find_all(_BLOCKS):
        tag.insert_before("\n")
        tag.insert_after("\n")
    lines: list[str] = []
    regions: list[Region] = [Region(0, top)] if top else []
    stack: list[str] = []
    offset = 0
    for raw in soup.get_text().split("\n"):
        mark = _MARK.search(raw)
        line = re.sub(r"\s+", " ", _MARK.sub("", raw)).strip()
        if not line:
            continue
        if mark:
            level = int(mark.group(1))
            stack = stack[:level - 1] + [""] * (level - 1 - len(stack)) + [line]
            label = heading_path([top, *(h for h in stack if h != title)])
            if regions and regions[-1].start == offset:
                regions[-1] = Region(offset, label)
            else:
                regions.append(Region(offset, label))
        lines.append(line)
        offset += len(line) + 1
    return "\n".join(lines), tuple(regions)


def _table_rows(table) -> list[list[str]]:
    """The cells of a table's own rows (not those of tables inside it), a cell spanning columns repeated."""
    rows = []
    for tr in table.find_all("tr"):
        if tr.find_parent("table") is not table:
            continue
        cells: list[str] = []
        for cell in tr.find_all(("td", "th")):
            if cell.find_parent("tr") is not tr:
                continue
            text = cell.get_text(" ", strip=True)
            try:
                span = min(MAX_COLSPAN, max(1, int(cell.get("colspan", 1))))
            except ValueError:
                span = 1
            cells.extend([text] * span)
        rows.append(cells)
    return rows
