"""Replace personal data with typed placeholders, the same value always with the same one.

A ``Vault`` lives for one ticket: subject, body, history lines and the customer's name share it,
so "[EMAIL_1]" means one address everywhere in the prompt and ``restore`` can put it back.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from privacy.recognizers import ENTITY_TYPES, FIXED, Recognizer, Span, pattern, phones

PLACEHOLDER = re.compile(r"\[([A-Z][A-Z0-9]*)_(\d{1,4})\]")


def _norm(kind: str, value: str) -> str:
    if kind in ("CARD", "IBAN", "SSN", "PHONE"):
        return re.sub(r"[^0-9A-Za-z]", "", value).upper()
    return value.strip().lower() if kind == "EMAIL" else value


@dataclass
class Vault:
    """Placeholders given out for one ticket, and the value behind each."""

    values: dict[str, tuple[str, str]] = field(default_factory=dict)  # "[CARD_1]" -> kind, value
    _by_value: dict[tuple[str, str], str] = field(default_factory=dict)
    _counts: dict[str, int] = field(default_factory=dict)

    def placeholder(self, kind: str, value: str) -> str:
        key = (kind, _norm(kind, value))
        if key not in self._by_value:
            n = self._counts.get(kind, 0) + 1
            self._counts[kind] = n
            name = f"[{kind}_{n}]"
            self._by_value[key] = name
            self.values[name] = (kind, value)
        return self._by_value[key]

    def counts(self) -> dict[str, int]:
        """How many distinct values of each type were masked (safe to log)."""
        return dict(self._counts)


class Redactor:
    """The configured recognizers; one instance per process, one ``Vault`` per ticket."""

    def __init__(
        self,
        entities: Iterable[str] = ENTITY_TYPES,
        *,
        phone_region: str = "US",
        extra_patterns: Mapping[str, str] | None = None,
    ) -> None:
        wanted = [e.strip().lower() for e in entities if e.strip()]
        unknown = set(wanted) - set(ENTITY_TYPES)
        if unknown:
            raise ValueError(f"unknown entity types: {', '.join(sorted(unknown))}")
        self.entities = tuple(e for e in ENTITY_TYPES if e in wanted)
        self._recognizers: list[Recognizer] = [
            FIXED[e] if e != "phone" else phones(phone_region) for e in self.entities
        ]
        for kind, regex in (extra_patterns or {}).items():
            self._recognizers.append(pattern(kind.upper(), regex))

    @property
    def enabled(self) -> bool:
        return bool(self._recognizers)

    def spans(self, text: str) -> list[Span]:
        """Non-overlapping spans, earlier recognizers first, then longer ones."""
        taken: list[Span] = []
        for recognize in self._recognizers:
            found = sorted(recognize(text), key=lambda s: (s.start, -(s.end - s.start)))
            for span in found:
                if not any(span.start < t.end and t.start < span.end for t in taken):
                    taken.append(span)
        return sorted(taken, key=lambda s: s.start)

    def redact(self, text: str, vault: Vault) -> str:
        if not text or not self._recognizers:
            return text
        # Text that already looks like one of our placeholders is not ours: defuse it so a
        # customer cannot make the restore step print another ticket's value.
        text = PLACEHOLDER.sub(lambda m: f"({m.group(1)}_{m.group(2)})", text)
        out, pos = [], 0
        for span in self.spans(text):
            out.append(text[pos : span.start])
            out.append(vault.placeholder(span.kind, span.value))
            pos = span.end
        out.append(text[pos:])
        return "".join(out)


NO_REDACTION = Redactor(())
