"""Reply templates: the cold start for suggestions, before any reply has been approved.

A template is a reply a team writes once for a kind of ticket, in one language: workers treat
it like an approved reply (``reply_example`` with a ``template_id``), embed its ``ticket`` text
and offer it for similar tickets. Slots ``{name}`` and ``{order}`` are filled from the new
ticket. Markdown (front matter ``id``, ``category``, ``language``, ``ticket``; the body is the
reply) or JSONL (``{"id", "category", "language", "ticket", "reply"}`` per line). Every file is
checked before anything is written; re-importing an id replaces that template.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlmodel import Session, col, select

from knowledge.importer import _front_matter, _read_text
from knowledge.jsonl import json_objects
from shared.errors import InputError
from shared.models import LANGUAGE_RE, ReplyExample, storable_text

REQUIRED = ("id", "language", "ticket", "reply")


@dataclass(frozen=True)
class Template:
    template_id: str
    category: str
    language: str
    ticket: str
    reply: str
    origin: str


@dataclass(frozen=True)
class TemplateSummary:
    templates: int
    created: int
    updated: int
    unchanged: int


def _checked(record: dict[str, Any], origin: str) -> Template:
    for name in REQUIRED:
        value = record.get(name)
        if not isinstance(value, str) or not value.strip():
            raise InputError(f"{origin}: missing or empty field {name!r}")
    category = record.get("category") or ""
    if not isinstance(category, str):
        raise InputError(f"{origin}: field 'category' must be a string")
    language = str(record["language"]).strip().lower()
    if not LANGUAGE_RE.fullmatch(language):
        raise InputError(f"{origin}: language {language!r} is not a code such as 'en' or 'pt-br'")
    if len(str(record["id"])) > 300:
        raise InputError(f"{origin}: id longer than 300 characters")
    for name in REQUIRED:
        try:
            storable_text(record[name])
        except ValueError as err:
            raise InputError(f"{origin}: {name} {err}") from None
    return Template(
        str(record["id"]).strip(),
        category.strip()[:100],
        language,
        str(record["ticket"]).strip(),
        str(record["reply"]).strip(),
        origin,
    )


def parse_markdown(path: Path) -> Template:
    meta, body = _front_matter(_read_text(path), str(path))
    return _checked({"id": meta.get("id") or path.stem, **meta, "reply": body}, str(path))


def parse_jsonl(path: Path) -> list[Template]:
    out = []
    for origin, record in json_objects(_read_text(path), str(path)):
        out.append(_checked(record, origin))
    return out


def read_templates(paths: Sequence[Path]) -> list[Template]:
    """Every template in these files and folders, checked; duplicate ids are an error."""
    files: list[Path] = []
    for p in paths:
        if p.is_dir():
            files += sorted(f for f in p.rglob("*") if f.suffix in (".md", ".jsonl"))
        elif p.is_file():
            files.append(p)
        else:
            raise InputError(f"{p}: no such file or folder")
    templates: list[Template] = []
    for f in files:
        if f.suffix == ".jsonl":
            templates += parse_jsonl(f)
        elif f.suffix in (".md", ".markdown"):
            templates.append(parse_markdown(f))
        else:
            raise InputError(f"{f}: not a .md or .jsonl file")
    seen: dict[str, str] = {}
    for t in templates:
        if t.template_id in seen:
            raise InputError(
                f"{t.origin}: template id {t.template_id!r} also in {seen[t.template_id]}"
            )
        seen[t.template_id] = t.origin
    if not templates:
        raise InputError("no templates found in " + ", ".join(str(p) for p in paths))
    return templates


def import_templates(session: Session, paths: Sequence[Path]) -> TemplateSummary:
    """Insert or replace templates by id, in one transaction."""
    templates = read_templates(paths)
    ids = [t.template_id for t in templates]
    existing = {
        e.template_id: e
        for e in session.exec(select(ReplyExample).where(col(ReplyExample.template_id).in_(ids)))
    }
    created = updated = unchanged = 0
    for t in templates:
        row = existing.get(t.template_id)
        fields: dict[str, Any] = {
            "category": t.category,
            "language": t.language,
            "ticket_text": t.ticket,
            "reply": t.reply,
        }
        if row is None:
            session.add(ReplyExample(template_id=t.template_id, **fields))
            created += 1
        elif all(getattr(row, k) == v for k, v in fields.items()):
            unchanged += 1
        else:
            # Delete and insert: workers notice a change by count and highest id.
            session.delete(row)
            session.flush()
            session.add(ReplyExample(template_id=t.template_id, **fields))
            updated += 1
    session.commit()
    return TemplateSummary(len(templates), created, updated, unchanged)


def list_templates(session: Session) -> list[ReplyExample]:
    return list(
        session.exec(
            select(ReplyExample)
            .where(col(ReplyExample.template_id).is_not(None))
            .order_by(col(ReplyExample.template_id))
        )
    )
