"""E-books (.epub) as text: the chapters in reading order (the package's spine), each read by the
HTML reader; a region per chapter named by the book's table of contents ("chapter 'Ports'"),
with the headings inside it below it."""
from __future__ import annotations

import io
import posixpath
import zipfile
from urllib.parse import unquote

from .documents import UnreadableDocument, check_zip, short_reason
from .regions import Region

_NS = {
    "c": "urn:oasis:names:tc:opendocument:xmlns:container",
    "opf": "http://www.idpf.org/2007/opf",
    "ncx": "http://www.daisy.org/z3986/2005/ncx/",
    "x": "http://www.w3.org/1999/xhtml",
}


def epub_text(data: bytes) -> tuple[str, tuple[Region, ...]]:
    from .html import html_parts

    check_zip(data)
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            names = set(zf.namelist())
            if "META-INF/encryption.xml" in names:
                raise UnreadableDocument("encrypted (DRM-protected) e-book")
            spine, titles = _contents(zf)
            parts: list[str] = []
            regions: list[Region] = []
            offset = 0
            for n, href in enumerate(spine, 1):
                if href not in names:
                    continue
                title = titles.get(href) or ""
                text, inner = html_parts(zf.read(href), f"chapter '{title}'" if title else f"chapter {n}", title)
                if not text:
                    continue
                if parts:
                    parts.append("\n\n")
                    offset += 2
                regions.extend(Region(offset + r.start, r.label, r.kind) for r in inner)
                parts.append(text)
                offset += len(text)
    except UnreadableDocument:
        raise
    except Exception as exc:  # a damaged archive or package document
        raise UnreadableDocument(f"not a readable .epub file ({short_reason(exc)})") from None
    return "".join(parts), tuple(regions)


def _xml(zf: zipfile.ZipFile, name: str):
    from lxml import etree

    return etree.fromstring(zf.read(name), etree.XMLParser(resolve_entities=False, no_network=True))


def _contents(zf: zipfile.ZipFile) -> tuple[list[str], dict[str, str]]:
    """The chapters' paths in reading order, and the title the table of contents gives each."""
    container = _xml(zf, "META-INF/container.xml")
    opf_path = container.find(".//c:rootfile", _NS).get("full-path")
    base = posixpath.dirname(opf_path)
    opf = _xml(zf, opf_path)

    def path(href: str) -> str:
        return posixpath.normpath(posixpath.join(base, unquote(href.split("#")[0])))

    items = {item.get("id"): item for item in opf.iterfind(".//opf:manifest/opf:item", _NS)}
    spine = [path(items[ref.get("idref")].get("href")) for ref in opf.iterfind(".//opf:spine/opf:itemref", _NS)
             if ref.get("idref") in items]
    titles: dict[str, str] = {}
    for item in items.values():
        kind, href = item.get("media-type", ""), item.get("href", "")
        if kind == "application/x-dtbncx+xml":
            ncx = _xml(zf, path(href))
            ncx_base = posixpath.dirname(path(href))
            for point in ncx.iterfind(".//ncx:navPoint", _NS):
                label = " ".join("".join(point.find("ncx:navLabel", _NS).itertext()).split())
                src = point.find("ncx:content", _NS).get("src", "")
                titles.setdefault(posixpath.normpath(posixpath.join(ncx_base, unquote(src.split("#")[0]))), label)
        elif "nav" in (item.get("properties") or "").split():
            nav = _xml(zf, path(href))
            nav_base = posixpath.dirname(path(href))
            for a in nav.iterfind(".//x:nav//x:a", _NS):
                label = " ".join("".join(a.itertext()).split())
                target = posixpath.normpath(posixpath.join(nav_base, unquote(a.get("href", "").split("#")[0])))
                titles.setdefault(target, label)
    return spine, titles
