"""``--map FIELD=COLUMN``: which column of the file fills which ticket field.

Exports name things differently (``text``, ``ticket_id``, ``created``); the mapping is checked
against the file's header before the first row is read, so a typo stops the run at once with
the list of columns the file does have.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from shared.errors import InputError

# Ticket fields a file may fill; ``category`` is the file's own label, kept as metadata only.
FIELDS = (
    "body",
    "subject",
    "external_id",
    "customer_email",
    "customer_name",
    "received_at",
    "category",
)
# Short names accepted on the left of ``=`` and, without ``--map``, as column names.
ALIASES = {
    "text": "body",
    "id": "external_id",
    "email": "customer_email",
    "name": "customer_name",
    "date": "received_at",
}


def field_name(name: str) -> str:
    key = name.strip().lower()
    field = ALIASES.get(key, key)
    if field not in FIELDS:
        known = (
            ", ".join(FIELDS)
            + " (aliases: "
            + ", ".join(f"{a}={f}" for a, f in ALIASES.items())
            + ")"
        )
        raise InputError(f"--map: unknown ticket field {name!r}; fields are {known}")
    return field


def parse_mapping(spec: str | None) -> dict[str, str] | None:
    """``"body=text,id=ticket_id"`` -> ``{"body": "text", "external_id": "ticket_id"}``."""
    if spec is None or not spec.strip():
        return None
    mapping: dict[str, str] = {}
    for pair in spec.split(","):
        if not pair.strip():
            continue
        field, sep, column = pair.partition("=")
        if not sep or not column.strip():
            raise InputError(f"--map: {pair.strip()!r} is not FIELD=COLUMN (e.g. body=text)")
        name = field_name(field)
        if name in mapping:
            raise InputError(f"--map: field {name!r} is mapped twice")
        mapping[name] = column.strip()
    return mapping


def default_mapping(columns: Iterable[str]) -> dict[str, str]:
    """Without ``--map``: every column named like a field (or an alias) fills that field."""
    mapping: dict[str, str] = {}
    for column in columns:
        key = column.strip().lower()
        field = ALIASES.get(key, key)
        if field in FIELDS and field not in mapping:
            mapping[field] = column
    return mapping


def resolve_mapping(
    explicit: Mapping[str, str] | None, columns: Iterable[str], *, where: str = "the header"
) -> dict[str, str]:
    """The mapping to use, checked against the file's columns."""
    columns = list(columns)
    mapping = dict(explicit) if explicit else default_mapping(columns)
    available = ", ".join(repr(c) for c in columns)
    missing = [f"{col!r} (for {field})" for field, col in mapping.items() if col not in columns]
    if missing:
        raise InputError(
            f"unknown column {', '.join(missing)}: {where} has {available}; use --map FIELD=COLUMN"
        )
    if "body" not in mapping:
        raise InputError(
            f"no column for the ticket body: {where} has {available}; use --map body=COLUMN"
        )
    return mapping
