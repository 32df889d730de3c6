"""Knowledge-base import: help articles (Markdown or JSONL) into retrievable passages.

Producer side, so no torch and no model: the worker embeds passages itself and notices an
import by the passage count and highest id, without a restart. Every file is parsed and checked
before anything is written, and the whole import is one transaction, so a bad file leaves the
knowledge base as it was. Re-importing a document replaces its passages; an unchanged document
is left alone so workers have nothing to re-embed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import delete, func
from sqlmodel import Session, col, select

from knowledge.jsonl import json_objects
from shared.errors import InputError
from shared.models import KbPassage, storable_text

CHUNK_CHARS = 800  # passages stay short enough for a small model's prompt
MARKDOWN_SUFFIXES = (".md", ".markdown")
JSONL_SUFFIXES = (".jsonl",)
MAX_DOC_ID = 300  # KbPassage.doc_id column width
MAX_TITLE = 500
MAX_URL = 2000

_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
_FENCE = re.compile(r"^\s*(```|~~~)")
_SENTENCE_END = re.compile("(?<=[.!?\u3002\uff01\uff1f])\\s+")


@dataclass(frozen=True)
class KbDoc:
    """One article, already split into passage texts."""

    doc_id: str
    title: str
    url: str | None
    chunks: tuple[str, ...]
    origin: str  # file (and line) it came from, for error messages


@dataclass(frozen=True)
class ImportSummary:
    docs: int
    passages: int
    created: int
    updated: int
    unchanged: int
    removed: int = 0  # documents deleted because the import left them out (prune)


# --- Chunking --------------------------------------------------------------------------------


def _split_long(paragraph: str, limit: int) -> list[str]:
    """A paragraph over the limit: cut at sentence ends, then at spaces as a last resort."""
    pieces: list[str] = []
    for sentence in _SENTENCE_END.split(paragraph):
        while len(sentence) > limit:
            cut = sentence.rfind(" ", 0, limit)
            cut = cut if cut > limit // 2 else limit
            pieces.append(sentence[:cut].strip())
            sentence = sentence[cut:].strip()
        if sentence:
            pieces.append(sentence)
    return pieces


def chunk_text(text: str, limit: int = CHUNK_CHARS) -> list[str]:
    """Pack whole paragraphs (then sentences) into chunks of at most ``limit`` characters."""
    chunks: list[str] = []
    current = ""
    for para in re.split(r"\n\s*\n", text):
        para = para.strip()
        if not para:
            continue
        pieces = [para] if len(para) <= limit else _split_long(para, limit)
        for i, piece in enumerate(pieces):
            joiner = " " if i else "\n\n"  # sentences of one paragraph stay on one line
            if current and len(current) + len(joiner) + len(piece) > limit:
                chunks.append(current)
                current = ""
            current = f"{current}{joiner}{piece}" if current else piece
    if current:
        chunks.append(current)
    return chunks


def split_sections(body: str) -> list[tuple[str | None, str]]:
    """(heading, text) per Markdown section; '#' lines inside code fences are not headings."""
    sections: list[tuple[str | None, list[str]]] = [(None, [])]
    in_fence = False
    for line in body.splitlines():
        if _FENCE.match(line):
            in_fence = not in_fence
        heading = None if in_fence else _HEADING.match(line)
        if heading:
            sections.append((heading.group(2).strip(), []))
        else:
            sections[-1][1].append(line)
    return [(h, "\n".join(lines).strip()) for h, lines in sections]


def markdown_chunks(body: str, limit: int = CHUNK_CHARS) -> list[str]:
    """Passages by section; a long section is split and each piece keeps the section heading."""
    out: list[str] = []
    for heading, text in split_sections(body):
        if not text:
            continue  # a heading with nothing under it (e.g. the title before a sub-heading)
        room = limit - (len(heading) + 1 if heading else 0)
        for piece in chunk_text(text, max(room, limit // 2)):
            out.append(f"{heading}\n{piece}" if heading else piece)
    return out


# --- Parsing ---------------------------------------------------------------------------------


def _front_matter(text: str, origin: str) -> tuple[dict[str, str], str]:
    """Simple ``key: value`` front matter between '---' lines (enough for title, url, id)."""
    lines = text.splitlines()
    if not lines or lines[0].strip() != "---":
        return {}, text
    for end in range(1, len(lines)):
        if lines[end].strip() in ("---", "..."):
            meta = {}
            for lineno, raw in enumerate(lines[1:end], start=2):
                key, sep, value = raw.partition(":")
                if sep and key.strip() and not raw.startswith((" ", "\t", "#")):
                    meta[key.strip().lower()] = value.strip().strip("\"'")
                    meta[f"{key.strip().lower()}@line"] = str(lineno)
            return meta, "\n".join(lines[end + 1 :])
    raise InputError(f"{origin}: front matter starts with '---' but is never closed")


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as err:
        raise InputError(f"{path}: not UTF-8 text ({err.reason} at byte {err.start})") from None
    except OSError as err:
        raise InputError(f"{path}: cannot read: {err.strerror}") from None


def check_url(url: str | None, origin: str) -> None:
    """Only http(s) links may reach a draft (worker.drafting.citations keeps links that come
    from the knowledge base): a ``javascript:``, ``data:`` or ``file:`` url is refused here."""
    if url is None or not url.strip():
        return
    parts = urlsplit(url.strip())
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        raise InputError(
            f"{origin}: url must be an http:// or https:// link with a host, got {url[:80]!r}"
        )


def _checked(doc_id: str, title: str, url: str | None, chunks: list[str], origin: str) -> KbDoc:
    if not doc_id:
        raise InputError(f"{origin}: empty document id")
    if len(doc_id) > MAX_DOC_ID:
        raise InputError(f"{origin}: document id longer than {MAX_DOC_ID} characters")
    if url is not None and len(url) > MAX_URL:
        raise InputError(f"{origin}: url longer than {MAX_URL} characters")
    if not chunks:
        raise InputError(f"{origin}: no text to import")
    for name, value in (("id", doc_id), ("title", title), ("url", url), ("text", "".join(chunks))):
        try:
            storable_text(value)
        except ValueError as err:
            raise InputError(f"{origin}: {name} {err}") from None
    return KbDoc(doc_id, title[:MAX_TITLE], url or None, tuple(chunks), origin)


def parse_markdown(path: Path, doc_id: str) -> KbDoc:
    """Title: front matter, else the first heading, else the file name; url from front matter."""
    meta, body = _front_matter(_read_text(path), str(path))
    first_heading = next((h for h, _ in split_sections(body) if h), None)
    title = meta.get("title") or first_heading or path.stem.replace("-", " ").replace("_", " ")
    check_url(meta.get("url"), f"{path}:{meta.get('url@line', 1)}")
    return _checked(
        meta.get("id") or doc_id, title, meta.get("url"), markdown_chunks(body), str(path)
    )


def _field(record: dict[str, Any], name: str, origin: str, required: bool) -> str | None:
    value = record.get(name)
    if value is None or value == "":
        if required:
            raise InputError(f"{origin}: missing field {name!r}")
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise InputError(f"{origin}: field {name!r} must be a string")
    return str(value).strip()


def parse_jsonl(path: Path) -> list[KbDoc]:
    """One article per line: {"id", "title", "text", "url"}; id and text are required."""
    docs = []
    for origin, record in json_objects(_read_text(path), str(path)):
        doc_id = _field(record, "id", origin, required=True) or ""
        text = _field(record, "text", origin, required=True) or ""
        title = _field(record, "title", origin, required=False) or doc_id
        url = _field(record, "url", origin, required=False)
        check_url(url, origin)
        docs.append(_checked(doc_id, title, url, chunk_text(text), origin))
    if not docs:
        raise InputError(f"{path}: no articles in the file")
    return docs


def _files(path: Path) -> list[tuple[Path, str]]:
    """(file, default doc id): a folder's articles are named by their path inside it."""
    if path.is_dir():
        found = sorted(
            p
            for p in path.rglob("*")
            if p.is_file() and p.suffix.lower() in MARKDOWN_SUFFIXES + JSONL_SUFFIXES
        )
        if not found:
            raise InputError(f"{path}: no .md, .markdown or .jsonl files in this folder")
        return [(p, p.relative_to(path).with_suffix("").as_posix()) for p in found]
    if not path.exists():
        raise InputError(f"{path}: no such file or folder")
    if path.suffix.lower() not in MARKDOWN_SUFFIXES + JSONL_SUFFIXES:
        raise InputError(f"{path}: unsupported file type; use .md, .markdown or .jsonl")
    return [(path, path.stem)]


def load_docs(paths: Iterable[Path]) -> list[KbDoc]:
    """Parse every file first; any problem stops the import before the database is touched."""
    docs: list[KbDoc] = []
    for path in paths:
        for file, doc_id in _files(path):
            if file.suffix.lower() in JSONL_SUFFIXES:
                docs.extend(parse_jsonl(file))
            else:
                docs.append(parse_markdown(file, doc_id))
    seen: dict[str, str] = {}
    for doc in docs:
        if doc.doc_id in seen:
            raise InputError(
                f"document id {doc.doc_id!r} appears twice: {seen[doc.doc_id]} and {doc.origin}"
            )
        seen[doc.doc_id] = doc.origin
    return docs


# --- Storing ---------------------------------------------------------------------------------


def store_docs(session: Session, docs: Sequence[KbDoc], prune: bool = False) -> ImportSummary:
    """Replace each document's passages in one transaction; unchanged documents are skipped.

    With ``prune`` the import is the whole knowledge base: documents it does not contain are
    deleted in the same transaction, so an article removed from the help centre stops
    grounding drafts.
    """
    created = updated = unchanged = 0
    for doc in docs:
        existing = session.exec(
            select(KbPassage).where(KbPassage.doc_id == doc.doc_id).order_by(col(KbPassage.chunk))
        ).all()
        wanted = [(doc.title, doc.url, text) for text in doc.chunks]
        if [(p.title, p.url, p.text) for p in existing] == wanted:
            unchanged += 1
            continue
        if existing:
            # A statement, not session.delete: the unit of work would insert before deleting
            # and trip the (doc_id, chunk) unique constraint.
            session.exec(delete(KbPassage).where(col(KbPassage.doc_id) == doc.doc_id))
            updated += 1
        else:
            created += 1
        session.add_all(
            KbPassage(doc_id=doc.doc_id, chunk=i, title=doc.title, url=doc.url, text=text)
            for i, text in enumerate(doc.chunks)
        )
    removed = 0
    if prune:
        keep = {d.doc_id for d in docs}
        stale = [d for d in stored_doc_ids(session) if d not in keep]
        removed = _delete(session, stale)
    session.commit()
    return ImportSummary(
        len(docs), sum(len(d.chunks) for d in docs), created, updated, unchanged, removed
    )


def import_paths(session: Session, paths: Iterable[Path], prune: bool = False) -> ImportSummary:
    """Import Markdown files/folders and JSONL files; raises ``InputError`` on a bad file."""
    docs = load_docs(paths)
    if prune and not docs:
        raise InputError("--prune with no documents would empty the knowledge base")
    return store_docs(session, docs, prune=prune)


def stored_doc_ids(session: Session) -> list[str]:
    return list(session.exec(select(KbPassage.doc_id).distinct().order_by(KbPassage.doc_id)).all())


def _delete(session: Session, doc_ids: Sequence[str]) -> int:
    if doc_ids:
        session.exec(delete(KbPassage).where(col(KbPassage.doc_id).in_(doc_ids)))
    return len(doc_ids)


def delete_docs(session: Session, doc_ids: Sequence[str]) -> int:
    """Delete whole documents; an unknown id fails the call before anything is deleted."""
    known = set(stored_doc_ids(session))
    missing = [d for d in doc_ids if d not in known]
    if missing:
        raise InputError("no such document: " + ", ".join(missing))
    removed = _delete(session, sorted(set(doc_ids)))
    session.commit()
    return removed


@dataclass(frozen=True)
class DocInfo:
    doc_id: str
    title: str
    passages: int


def list_docs(session: Session) -> list[DocInfo]:
    rows = session.exec(
        select(KbPassage.doc_id, func.min(KbPassage.title), func.count(col(KbPassage.id)))
        .group_by(col(KbPassage.doc_id))
        .order_by(col(KbPassage.doc_id))
    ).all()
    return [DocInfo(d, t or "", int(n)) for d, t, n in rows]


def sample_kb_dir() -> Path:
    """The small help-centre KB shipped for the demo (ticketflow/samples/kb)."""
    return Path(str(resources.files("ticketflow").joinpath("samples/kb")))
