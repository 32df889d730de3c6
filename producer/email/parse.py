"""Raw bytes -> ``ParsedEmail``, reading as much as a damaged message allows.

Real mail is often broken: wrong or unknown charsets, 8-bit bytes in headers, multiparts
without their boundary. Every step here falls back instead of raising, so one bad mail yields
what could be read (and a note of what could not) rather than stopping an ingestion run.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import policy
from email.header import decode_header, make_header
from email.message import EmailMessage, Message
from email.parser import BytesParser
from email.utils import parseaddr, parsedate_to_datetime
from typing import Any

from producer.email.clean import html_to_text
from shared.config import default

# Labels seen in the wild mapped to the codec that actually decodes them (supersets mostly).
CHARSET_ALIASES = {
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "cn-gb": "gb18030",
    "ks_c_5601-1987": "cp949",
    "iso-8859-8-i": "iso-8859-8",
    "windows-874": "cp874",
    "unicode-1-1-utf-7": "utf-7",
    "x-unknown": "",
    "unknown-8bit": "",
}
_MSGID = re.compile(r"<[^<>\s]+>")
_BLANK_LINE = re.compile(rb"\r?\n\r?\n")
MAX_HEADER_BYTES: int = default("email_max_header_bytes")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


@dataclass(frozen=True)
class Attachment:
    """Listed for the reviewer, never stored: mail attachments are not ticket content."""

    filename: str
    content_type: str
    size: int

    def as_dict(self) -> dict[str, Any]:
        return {"filename": self.filename, "content_type": self.content_type, "size": self.size}


@dataclass(frozen=True)
class ParsedEmail:
    """What ingestion needs from one mail; ``text`` is the whole body, quotes included."""

    message_id: str | None
    in_reply_to: tuple[str, ...]
    references: tuple[str, ...]
    sender_email: str | None
    sender_name: str | None
    subject: str
    date: datetime | None
    text: str
    from_html: bool
    attachments: tuple[Attachment, ...]
    headers: dict[str, str]
    part_types: tuple[str, ...]
    notes: tuple[str, ...] = field(default=())
    # Every Authentication-Results header, topmost (added last, by our own server) first.
    auth_results: tuple[str, ...] = field(default=())
    # Headers cut to the size limit before parsing ("Subject (1400000 bytes)"): flag the ticket.
    cut_headers: tuple[str, ...] = field(default=())


def clean_str(value: str) -> str:
    """Undo surrogate escapes (raw 8-bit header bytes) and drop control characters.

    PostgreSQL rejects NUL and neither database accepts lone surrogates, so this runs on every
    string before it is stored.
    """
    raw = value.encode("utf-8", "surrogateescape")
    try:
        value = raw.decode("utf-8")
    except UnicodeDecodeError:  # 8-bit header bytes that are not UTF-8: most often cp1252
        value = raw.decode("cp1252", "replace")
    return _CONTROL.sub("", value)


def decode_bytes(data: bytes, charset: str | None) -> tuple[str, str | None]:
    """Decode with the declared charset, then UTF-8, then cp1252; never raises.

    Returns the text and a note when the declared charset was unknown or wrong.
    """
    declared = (charset or "").strip().strip("\"'").lower()
    codec = CHARSET_ALIASES.get(declared, declared)
    candidates = [c for c in (codec, "utf-8", "cp1252") if c]
    for name in candidates:
        try:
            text = data.decode(name)
        except (LookupError, UnicodeDecodeError, ValueError):
            continue
        if name == candidates[0]:
            return text, None
        return text, f"charset {declared or 'unset'!r} did not decode; read as {name}"
    return data.decode("utf-8", "replace"), f"undecodable bytes in charset {declared!r} replaced"


def _header_end(raw: bytes) -> int:
    """Where the header block ends (the blank line included); the whole mail if never."""
    found = _BLANK_LINE.search(raw)
    return found.end() if found else len(raw)


def bound_headers(raw: bytes, max_field: int) -> tuple[bytes, list[str]]:
    """Cut each header field (folded lines together) to ``max_field`` bytes and the header
    block to 16 of those, before the parser sees them: Python's header parsing is super-linear
    (a folded 1.4 MB Subject took 76 s), and no real header is that long."""
    end = _header_end(raw)
    if end <= max_field:
        return raw, []
    head, body = raw[:end], raw[end:]
    fields: list[list[bytes]] = []
    for line in head.splitlines(keepends=True):
        if line[:1] in (b" ", b"\t") and fields:
            fields[-1].append(line)
        else:
            fields.append([line])
    out: list[bytes] = []
    cut: list[str] = []
    total = 0
    for lines in fields:
        size = sum(len(ln) for ln in lines)
        name = lines[0].split(b":", 1)[0][:60].decode("ascii", "replace").strip() or "?"
        if size > max_field:
            kept: list[bytes] = []
            n = 0
            for ln in lines:
                if n + len(ln) > max_field:
                    break
                kept.append(ln)
                n += len(ln)
            lines = kept or [lines[0][:max_field].rstrip(b"\r\n") + b"\n"]
            cut.append(f"{name} ({size} bytes)")
            size = sum(len(ln) for ln in lines)
        if total + size > 16 * max_field and lines[0].strip():
            cut.append("further headers dropped")
            out.append(b"\n")
            break
        out.extend(lines)
        total += size
    return b"".join(out) + body, cut


def parse_email(raw: bytes, max_header_bytes: int = MAX_HEADER_BYTES) -> ParsedEmail:
    """Parse one message; raises only if the bytes are not a message at all (never seen).

    Each header is read (and decoded) once, into ``headers``; the named fields come from it.
    """
    raw, cut = bound_headers(raw, max_header_bytes)
    msg = BytesParser(policy=policy.default).parsebytes(raw)
    assert isinstance(msg, EmailMessage)
    notes: list[str] = []
    text, from_html, body_part = _body(msg, notes)
    headers = {k.lower(): _header(msg, k) for k in dict.fromkeys(msg.keys())}
    name, addr = _sender(msg, headers.get("from", ""))
    return ParsedEmail(
        message_id=_first_id(headers.get("message-id", "")),
        in_reply_to=tuple(_MSGID.findall(headers.get("in-reply-to", ""))),
        references=tuple(_MSGID.findall(headers.get("references", ""))),
        sender_email=addr,
        sender_name=name,
        subject=" ".join(headers.get("subject", "").split()),
        date=_date(headers.get("date", "")),
        text=text,
        from_html=from_html,
        attachments=tuple(_attachments(msg, body_part)),
        headers=headers,
        part_types=tuple(_safe_type(p) for p in msg.walk()),
        notes=tuple(notes + [type(d).__name__ for d in msg.defects]),
        auth_results=tuple(
            clean_str(str(v)) for k, v in msg.raw_items() if k.lower() == "authentication-results"
        ),
        cut_headers=tuple(cut),
    )


def _header(msg: Message, name: str) -> str:
    """A header as text; raw 8-bit bytes the policy turned into U+FFFD are decoded again."""
    try:
        value = msg.get(name)
        parsed = clean_str(str(value)) if value is not None else ""
    except Exception:  # the policy's structured parser chokes on some malformed headers
        parsed = "\ufffd"
    if "\ufffd" not in parsed:
        return parsed
    for key, raw in msg.raw_items():
        if key.lower() == name.lower():
            return clean_str(_decode_raw_header(str(raw))).strip()
    return parsed.replace("\ufffd", "")


def _decode_raw_header(raw: str) -> str:
    try:
        return str(make_header(decode_header(raw)))
    except Exception:
        return raw


def _first_id(value: str) -> str | None:
    found = _MSGID.search(value)
    if found:
        return found.group(0)
    value = value.strip()
    return f"<{value}>" if value else None


def _sender(msg: Message, header: str) -> tuple[str | None, str | None]:
    try:
        addresses = msg["from"].addresses  # type: ignore[union-attr]
        if addresses:
            first = addresses[0]
            return clean_str(first.display_name) or None, clean_str(first.addr_spec) or None
    except Exception:
        pass
    name, addr = parseaddr(header)
    return name or None, addr or None


def _date(value: str) -> datetime | None:
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(value)
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    except (TypeError, ValueError, IndexError, OverflowError):  # a bad Date is not a bad mail
        return None


def _safe_type(part: Message) -> str:
    try:
        return part.get_content_type()
    except Exception:
        return "application/octet-stream"


def _is_attachment(part: Message) -> bool:
    try:
        return part.get_content_disposition() == "attachment" or bool(part.get_filename())
    except Exception:
        return True


def _body(msg: EmailMessage, notes: list[str]) -> tuple[str, bool, Message | None]:
    """Pick the plain part (or the HTML one converted) of the message."""
    candidates: list[Message] = []
    for pref in (("plain",), ("html",)):
        part: Message | None
        try:
            part = msg.get_body(preferencelist=pref)
        except Exception:  # e.g. a multipart whose boundary never appears
            part = None
        if part is not None:
            candidates.append(part)
    for part in msg.walk():
        if _safe_type(part) in ("text/plain", "text/html") and not _is_attachment(part):
            candidates.append(part)
    for part in candidates:
        text = _part_text(part, notes)
        if text.strip():
            is_html = _safe_type(part) == "text/html"
            return (html_to_text(text) if is_html else text), is_html, part
    payload = msg.get_payload()
    if isinstance(payload, str) and msg.get_content_maintype() == "multipart" and payload.strip():
        notes.append("broken multipart: body read as plain text")
        return clean_str(payload.replace("\r\n", "\n")), False, None
    return "", False, None


def _part_text(part: Message, notes: list[str]) -> str:
    try:
        data = part.get_payload(decode=True)
    except Exception:
        data = None
    if not isinstance(data, bytes):
        return ""
    try:
        charset = part.get_content_charset()
    except Exception:
        charset = None
    text, note = decode_bytes(data, charset)
    if note:
        notes.append(note)
    return clean_str(text.replace("\r\n", "\n"))


def _attachments(msg: Message, body_part: Message | None) -> list[Attachment]:
    found = []
    for part in msg.walk():
        ctype = _safe_type(part)
        if part.is_multipart() or part is body_part or ctype.startswith("multipart/"):
            continue
        if ctype.startswith(("text/plain", "text/html")) and not _is_attachment(part):
            continue  # the alternative rendering of the body, not a file
        if part.get_content_maintype() == "message" or ctype == "text/rfc822-headers":
            continue  # report sections of a bounce, already in part_types
        try:
            filename = part.get_filename() or ""
        except Exception:
            filename = ""
        try:
            size = len(part.get_payload(decode=True) or b"")
        except Exception:
            size = 0
        found.append(Attachment(clean_str(filename) or "(unnamed)", ctype, size))
    return found
