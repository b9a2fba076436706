"""Saved e-mails (.eml). The message is one document: a header block (From, To, Cc, Date, Subject,
and a line naming its text attachments), then the body (an HTML body read by the HTML reader),
in a region named by its subject ("message 'Invoice 42'").

Each text attachment is a document of its own, named by a path under the message's
(``inbox/invoice.eml/notes.txt``: no real file can have that path, the .eml being a file). It is
read like a file of its kind (Markdown headings, CSV rows, HTML) under a region naming the message
("message 'Invoice 42' › notes.txt"). Two attachments with the same name are told apart
("notes.txt", "notes (2).txt"). An attachment over MAX_ATTACHMENT_BYTES is not read (its document
is skipped with the reason); attachments that are not text are left out.
"""
from __future__ import annotations

from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path, PurePosixPath

from .documents import MAX_FILE_BYTES, UnreadableDocument, decode_text, short_reason, stream_pieces
from .regions import SEP, Region

HEADERS = ("From", "To", "Cc", "Date", "Subject")
MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024
TEXT_ATTACHMENTS = {".txt", ".md", ".markdown", ".text", ".rst", ".csv", ".tsv", ".html", ".htm"}
_SUBTYPE_SUFFIX = {"html": ".html", "csv": ".csv", "tab-separated-values": ".tsv", "markdown": ".md"}
_LISTED_MAX = 4096                # e-mails whose attachment list is remembered (see ``attachment_list``)
_listed: dict[tuple, tuple[tuple[str, int], ...]] = {}


def eml_text(data: bytes) -> tuple[str, tuple[Region, ...]]:
    """The message's document: headers, the names of its text attachments, the body."""
    from .html import html_parts

    def read(msg: EmailMessage):
        header = [f"{name}: {' '.join(str(msg[name]).split())}" for name in HEADERS if msg[name]]
        names = [name for name, _ in text_attachments(msg)]
        if names:
            header.append(f"Attachments: {', '.join(names)}")
        body = msg.get_body(preferencelist=("plain", "html"))
        text = ""
        if body is not None:
            payload = body.get_payload(decode=True) or b""
            text = html_parts(payload)[0] if body.get_content_subtype() == "html" else _decoded(body, payload)
        blocks = ["\n".join(header), text.strip()]
        return "\n\n".join(b for b in blocks if b), (Region(0, _top(msg)),)

    return _reading(data, read)


def attachment_text(data: bytes, name: str, message_name: str = "") -> tuple[str, tuple[Region, ...]]:
    """The document of the text attachment ``name`` (as ``text_attachments`` names it) of the
    message in ``data``, saved as the file ``message_name``; UnreadableDocument when there is no
    such attachment or it is over MAX_ATTACHMENT_BYTES."""
    from .html import html_parts

    def read(msg: EmailMessage):
        part = dict(text_attachments(msg, message_name)).get(name)
        if part is None:
            raise UnreadableDocument(f"the message has no text attachment named {name!r}")
        payload = part.get_payload(decode=True) or b""
        if len(payload) > MAX_ATTACHMENT_BYTES:
            raise UnreadableDocument(f"attachment too large ({len(payload):,} bytes; "
                                     f"the limit is {MAX_ATTACHMENT_BYTES:,})")
        label = _top(msg) + SEP + name
        suffix = _kind(name, part)
        if suffix in (".html", ".htm"):
            return html_parts(payload, top=label)
        pieces, regions = stream_pieces(Path("attachment" + suffix), iter((_decoded(part, payload),)))
        return "".join(pieces), _under(label, tuple(regions))

    return _reading(data, read)


def text_attachments(msg: EmailMessage, message_name: str = "") -> list[tuple[str, EmailMessage]]:
    """The message's text attachments, in order, each with a name of its own: its file name (no
    folders, not hidden), or for a second attachment of that name "notes (2).txt"; never
    ``message_name``, the message's own file name."""
    found = []
    for part in msg.iter_attachments():
        name = _clean_name(part.get_filename())
        if part.get_content_maintype() == "text" or PurePosixPath(name).suffix.lower() in TEXT_ATTACHMENTS:
            found.append((name, part))
    used = {message_name}
    names: list[str | None] = []
    for name, _ in found:
        names.append(None if name in used else name)
        used.add(name)
    for i, (name, _) in enumerate(found):
        if names[i] is None:
            path, n = PurePosixPath(name), 2
            while (candidate := f"{path.stem} ({n}){path.suffix}") in used:
                n += 1
            used.add(candidate)
            names[i] = candidate
    return [(name, part) for name, (_, part) in zip(names, found)]


def attachment_list(path: Path, *, cached: bool = True) -> tuple[tuple[str, int], ...]:
    """(name, bytes) of each text attachment of the .eml at ``path``; none when it cannot be read
    (reading its message says why). Remembered while the file's size and times stay the same,
    unless ``cached`` is False."""
    path = Path(path)
    try:
        st = path.stat()
    except OSError:
        return ()
    key = (str(path), st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
    listed = _listed.get(key) if cached else None
    if listed is not None:
        return listed
    try:
        if st.st_size > MAX_FILE_BYTES:
            return ()
        msg = _parse(path.read_bytes())
        listed = tuple((name, len(part.get_payload(decode=True) or b""))
                       for name, part in text_attachments(msg, path.name))
    except Exception:  # noqa: BLE001 - an unreadable message has no attachments to list
        return ()
    if len(_listed) >= _LISTED_MAX:
        _listed.clear()
    _listed[key] = listed
    return listed


def _reading(data: bytes, read):
    try:
        return read(_parse(data))
    except UnreadableDocument:
        raise
    except Exception as exc:  # the parser is lenient; this is for what it cannot take
        raise UnreadableDocument(f"not a readable e-mail ({short_reason(exc)})") from None


def _parse(data: bytes) -> EmailMessage:
    return BytesParser(policy=policy.default).parsebytes(data)


def _top(msg: EmailMessage) -> str:
    subject = " ".join(str(msg["Subject"] or "").split()) or "(no subject)"
    return f"message '{subject}'"


def _clean_name(raw) -> str:
    name = "".join(ch for ch in str(raw or "") if ch.isprintable()).replace("\\", "/").rsplit("/", 1)[-1]
    return name.strip().lstrip(".").strip() or "attachment"


def _kind(name: str, part: EmailMessage) -> str:
    """The suffix of the kind of file the attachment is read as: its name's, else its content type's."""
    suffix = PurePosixPath(name).suffix.lower()
    if part.get_content_subtype() == "html" and suffix not in (".html", ".htm"):
        return ".html"
    if suffix in TEXT_ATTACHMENTS:
        return suffix
    return _SUBTYPE_SUFFIX.get(part.get_content_subtype(), ".txt")


def _under(label: str, regions: tuple[Region, ...]) -> tuple[Region, ...]:
    out = [Region(r.start, label + SEP + r.label if r.label else label, r.kind) for r in regions]
    if not out or out[0].start > 0:
        out.insert(0, Region(0, label))
    return tuple(out)


def _decoded(part: EmailMessage, payload: bytes) -> str:
    charset = part.get_content_charset()
    try:
        text = payload.decode(charset, errors="replace") if charset else decode_text(payload)
    except (LookupError, UnreadableDocument):
        text = payload.decode("utf-8", errors="replace")
    return text.replace("\r\n", "\n")
