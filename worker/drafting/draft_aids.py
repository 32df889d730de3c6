"""What surrounds the draft model's call: examples in, fallback language, guardrails out.

``run_batch`` (worker/pipeline/triage.py) asks ``DraftAids`` three things per ticket: a plan
before drafting (the language to write in, the approved replies to show the model, the reply to
offer the reviewer, or a reply to use as the draft when the model cannot write the language),
the chat with the examples added, and the finished draft with its guardrail warnings.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Engine as DbEngine

from shared.config import Settings
from worker.drafting.adapt import adapt_reply
from worker.drafting.guardrails import (
    DEFAULT_PROMISE_PHRASES,
    LANGUAGE_FALLBACK,
    DraftContext,
    DraftWarning,
    check_draft,
)
from worker.drafting.knowledge_base import Embedder
from worker.drafting.prompting import LANGUAGE_NAMES, TicketView, neutralize
from worker.drafting.suggestions import ExampleHit, ExampleIndex
from worker.engine.base import ChatMessages, Classification, Label

EXAMPLE_CHARS = 700  # per example reply in the prompt: two fit a small model's budget


@dataclass(frozen=True)
class DraftRules:
    draft_languages: frozenset[str]  # empty: the model writes every language
    team_language: str
    signature: str
    allowed_contacts: tuple[str, ...]
    promise_phrases: dict[str, list[str]]
    blocking: frozenset[str]
    examples: int

    @classmethod
    def from_settings(cls, s: Settings) -> DraftRules:
        return cls(
            s.draft_language_set,
            s.team_language.lower(),
            s.draft_signature,
            tuple(c.strip() for c in s.draft_allowed_contacts.split(",") if c.strip()),
            s.draft_promise_phrases or DEFAULT_PROMISE_PHRASES,
            s.blocking_warning_set,
            s.suggestion_examples,
        )

    def writes(self, language: str) -> bool:
        """Undetermined text ("und": digits, emoji) is no language to fall back from."""
        code = language.lower()
        return not self.draft_languages or code in self.draft_languages or code == "und"


@dataclass(frozen=True)
class DraftPlan:
    language: str  # the language the draft is written in
    fallback: bool  # the ticket's language is not one the model writes: team language instead
    examples: tuple[ExampleHit, ...] = ()
    # The examples' replies fitted to this ticket (the old customer's name and order numbers
    # never reach the prompt).
    example_replies: tuple[str, ...] = ()
    suggestion: dict[str, Any] | None = None  # offered to the reviewer
    canned: str | None = None  # used as the draft, without generation


def _name(code: str) -> str:
    return LANGUAGE_NAMES.get(code, code)


def ticket_text(view: TicketView) -> str:
    return f"{view.subject}\n{view.body}".strip()


class DraftAids:
    def __init__(
        self,
        rules: DraftRules,
        examples: ExampleIndex | None = None,
        detect_language: Callable[[str], str] | None = None,
    ) -> None:
        self.rules = rules
        self.examples = examples
        self.detect_language = detect_language

    def plan(
        self,
        views: Sequence[TicketView],
        labels: Sequence[Classification],
        vectors: Sequence[Sequence[float]] | None,
    ) -> list[DraftPlan]:
        """One plan per ticket; ``vectors``: the tickets' embeddings (None: no examples)."""
        langs = [lab.language.name.lower() for lab in labels]
        hits: list[list[ExampleHit]] = [[] for _ in views]
        if self.examples is not None and vectors is not None:
            self.examples.refresh_if_due()
            hits = self.examples.search(vectors, langs, max(self.rules.examples, 1))
        plans = []
        for view, lang, found in zip(views, langs, hits, strict=True):
            suggestion: dict[str, Any] | None = None
            fitted = [
                adapt_reply(
                    h.example.reply,
                    old_ticket=h.example.ticket_text,
                    old_name=h.example.customer_name,
                    new_ticket=ticket_text(view),
                    new_name=view.customer_name,
                    language=lang,
                )
                for h in found
            ]
            reply = fitted[0] if fitted else ""
            if found:
                best = found[0]
                e = best.example
                suggestion = {
                    "reply": reply,
                    "source": f"Based on {e.origin}",
                    "ticket_id": e.ticket_id,
                    "template_id": e.template_id,
                    "similarity": best.score,
                }
            if self.rules.writes(lang):
                k = self.rules.examples
                plans.append(
                    DraftPlan(lang, False, tuple(found[:k]), tuple(fitted[:k]), suggestion)
                )
            elif suggestion is not None:  # a person wrote this language: use their reply
                plans.append(DraftPlan(lang, False, (), (), suggestion, canned=reply))
            else:
                plans.append(DraftPlan(self.rules.team_language, True))
        return plans

    def prompt_labels(self, labels: Classification, plan: DraftPlan) -> Classification:
        """The labels the prompt sees: the draft's language, which a fallback changes."""
        if plan.language == labels.language.name.lower():
            return labels
        return dataclasses.replace(labels, language=Label(plan.language, 1.0))

    def with_examples(self, chat: ChatMessages, plan: DraftPlan) -> ChatMessages:
        """Approved replies to similar tickets, shown before the ticket as replies to adapt."""
        if not plan.examples:
            return chat
        items = [
            f"Example {n}:\n{neutralize(reply.strip()[:EXAMPLE_CHARS])}"
            for n, reply in enumerate(plan.example_replies, start=1)
        ]
        block = (
            "Replies our team approved for similar tickets (adapt the closest one to this "
            "ticket; do not copy names or numbers that do not fit):\n" + "\n\n".join(items)
        )
        out = [dict(m) for m in chat]
        user = next(m for m in out if m["role"] == "user")
        head, sep, tail = user["content"].rpartition("<ticket>")
        user["content"] = f"{head}{block}\n\n{sep}{tail}" if sep else f"{block}\n\n{tail}"
        return out

    def guard(
        self,
        draft: str,
        view: TicketView,
        plan: DraftPlan,
        sources: Sequence[str],
        titles: Sequence[str],
    ) -> tuple[str, list[dict[str, Any]]]:
        """Guardrails on the finished draft; the fallback flag comes first."""
        ctx = DraftContext(
            ticket_text=ticket_text(view),
            language=plan.language,
            customer_name=view.customer_name,
            sources=[*sources, *plan.example_replies] + ([plan.canned] if plan.canned else []),
            allowed_contacts=self.rules.allowed_contacts,
            signature=self.rules.signature,
            promise_phrases=self.rules.promise_phrases,
            ignore_in_promises=titles,
            blocking=self.rules.blocking,
            detect_language=self.detect_language,
        )
        guarded = check_draft(draft, ctx)
        warnings: list[DraftWarning] = []
        if plan.fallback:
            warnings.append(
                DraftWarning(
                    LANGUAGE_FALLBACK,
                    "The draft model does not write this ticket's language well "
                    f"(TICKETFLOW_DRAFT_LANGUAGES): this draft is in {_name(plan.language)}. "
                    "Translate it, or reply in the customer's language yourself.",
                    blocking=LANGUAGE_FALLBACK in self.rules.blocking,
                )
            )
        if plan.canned is not None and plan.suggestion is not None:
            warnings.append(
                DraftWarning(
                    LANGUAGE_FALLBACK,
                    "The draft model does not write this ticket's language well: this draft "
                    f"is {plan.suggestion['source'][9:]}, adapted. Check it fits.",
                )
            )
        return guarded.text, [w.as_dict() for w in [*warnings, *guarded.warnings]]


def build_draft_aids(
    settings: Settings, db: DbEngine, embedder: Embedder, loaded: object
) -> DraftAids:
    """The worker's aids: examples embedded with the engine's encoder (loaded at the first
    batch, refreshed like the knowledge base), the engine's language detector if it has one."""
    index = ExampleIndex(
        db,
        embedder,
        min_similarity=settings.suggestion_min_similarity,
        refresh_s=settings.kb_refresh_s,
    )
    detector = getattr(loaded, "language", None)
    detect = (lambda text: str(detector.detect(text).name)) if detector is not None else None
    return DraftAids(DraftRules.from_settings(settings), index, detect)
