"""Saved e-mails (.eml) as text: a header block (From, To, Cc, Date, Subject), the body (an HTML
body read by the HTML reader), then each text attachment under a line naming it. The message is
a region named by its subject ("message 'Invoice 42'"); each attachment one below it
("message 'Invoice 42' › notes.txt")."""
from __future__ import annotations

from email import policy
from email.parser import BytesParser
from pathlib import PurePosixPath

from .documents import UnreadableDocument, decode_text, short_reason
from .regions import SEP, Region

HEADERS = ("From", "To", "Cc", "Date", "Subject")
MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024
TEXT_ATTACHMENTS = {".txt", ".md", ".markdown", ".text", ".rst", ".csv", ".tsv", ".html", ".htm"}


def eml_text(data: bytes) -> tuple[str, tuple[Region, ...]]:
    from .html import html_parts

    try:
        msg = BytesParser(policy=policy.default).parsebytes(data)
        header = [f"{name}: {' '.join(str(msg[name]).split())}" for name in HEADERS if msg[name]]
        subject = " ".join(str(msg["Subject"] or "").split()) or "(no subject)"
        top = f"message '{subject}'"
        body = msg.get_body(preferencelist=("plain", "html"))
        text = _part_text(body, html_parts) if body is not None else ""
        blocks = ["\n".join(header), text.strip()]
        regions = [Region(0, top)]
        offset = sum(len(b) + 2 for b in blocks if b)
        for part in msg.iter_attachments():
            name = PurePosixPath(part.get_filename() or "attachment").name
            kind = part.get_content_maintype()
            if kind != "text" and PurePosixPath(name).suffix.lower() not in TEXT_ATTACHMENTS:
                continue
            payload = part.get_payload(decode=True) or b""
            if len(payload) > MAX_ATTACHMENT_BYTES:
                block = (f"Attachment {name}: not indexed ({len(payload):,} bytes; "
                         f"the limit is {MAX_ATTACHMENT_BYTES:,})")
            else:
                block = f"Attachment {name}:\n{_part_text(part, html_parts).strip()}"
            regions.append(Region(offset, top + SEP + name))
            blocks.append(block)
            offset += len(block) + 2
    except UnreadableDocument:
        raise
    except Exception as exc:  # the parser is lenient; this is for what it cannot take
        raise UnreadableDocument(f"not a readable e-mail ({short_reason(exc)})") from None
    return "\n\n".join(b for b in blocks if b), tuple(regions)


def _part_text(part, html_parts) -> str:
    payload = part.get_payload(decode=True) or b""
    if part.get_content_subtype() == "html" or (part.get_filename() or "").lower().endswith((".html", ".htm")):
        return html_parts(payload)[0]
    charset = part.get_content_charset()
    try:
        text = payload.decode(charset, errors="replace") if charset else decode_text(payload)
    except (LookupError, UnreadableDocument):
        text = payload.decode("utf-8", errors="replace")
    return text.replace("\r\n", "\n")
