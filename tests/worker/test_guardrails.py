"""Each guardrail on drafts written for the demo samples (ticketflow/samples/), with the
failures the bundled model produced on them: invented phone numbers and addresses, template
placeholders, signatures by invented people or by the customer, the wrong language, promises,
loops and cut-off endings."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from worker.drafting.guardrails import (
    CONTACT,
    LANGUAGE,
    PLACEHOLDER,
    PROMISE,
    REPETITION,
    SIGNATURE,
    TRUNCATED,
    DraftContext,
    check_draft,
    fix_signature,
    invented_contacts,
    loops,
)
from worker.engine.language import LanguageDetector

SAMPLES = Path(__file__).resolve().parents[2] / "ticketflow" / "samples"
KB_REFUNDS = (SAMPLES / "kb" / "refunds-policy.md").read_text()


def sample(ext_id: str) -> dict[str, Any]:
    for line in (SAMPLES / "demo_tickets.jsonl").read_text().splitlines():
        row = json.loads(line)
        if row["external_id"] == ext_id:
            return dict(row)
    raise KeyError(ext_id)


@pytest.fixture(scope="module")
def detect() -> Any:
    detector = LanguageDetector(["en", "es", "de", "fr", "it", "zh", "nl"])
    return lambda text: detector.detect(text).name


def ctx(ext_id: str, language: str = "en", **kw: Any) -> DraftContext:
    t = sample(ext_id)
    return DraftContext(
        ticket_text=f"{t['subject']}\n{t['body']}",
        language=language,
        customer_name=t["customer_name"],
        **kw,
    )


def codes(warnings: list[Any]) -> list[tuple[str, bool, bool]]:
    return [(w.code, w.blocking, w.fixed) for w in warnings]


def test_invented_phone_and_email_are_blocking_on_the_charged_twice_sample() -> None:
    draft = (
        "Dear Maria,\n\nThank you for contacting us. Please call our billing team at "
        "1-800-555-0199 or write to billing@support-team.com so we can look into the two "
        "payments of 29.99.\n\nBest regards,\nThe Support Team"
    )
    g = check_draft(draft, ctx("demo-001", sources=[KB_REFUNDS]))
    contact = next(w for w in g.warnings if w.code == CONTACT)
    assert contact.blocking and not contact.fixed
    assert "1-800-555-0199" in contact.message and "billing@support-team.com" in contact.message
    assert "29.99" not in contact.message  # an amount from the ticket is not a phone number


def test_contacts_from_ticket_kb_and_settings_pass() -> None:
    known = [
        "Order 48213, call me on +44 20 7946 0958",
        KB_REFUNDS,
        "help@acme.example",
    ]
    draft = (
        "We will call you on +44 20 7946 0958 about order #48213. See "
        "https://help.example.com/articles/refunds-policy or write to help@acme.example. "
        "It arrives on 2026-12-04."
    )
    assert invented_contacts(draft, known) == []
    assert invented_contacts("Visit www.acme-deals.com today.", known) == ["www.acme-deals.com"]


def test_your_name_placeholder_becomes_the_signature_and_customer_name_is_filled() -> None:
    draft = (
        "Dear [Customer Name],\n\nThank you for contacting us about your order #48213. A "
        "colleague will follow up.\n\nBest regards,\n[Your Name]"
    )
    g = check_draft(draft, ctx("demo-003"))
    assert g.text.startswith("Dear Peter,") and g.text.endswith("Best regards,\nThe Support Team")
    assert codes(g.warnings) == [(PLACEHOLDER, False, True)]


def test_other_placeholders_are_flagged_not_guessed() -> None:
    draft = (
        "Dear Tom,\n\nYes, we accept <payment method> and the annual plan costs [insert price]."
        "\n\nThe Support Team"
    )
    g = check_draft(draft, ctx("demo-010"))
    left = next(w for w in g.warnings if w.code == PLACEHOLDER)
    assert left.blocking and "<payment method>" in left.message and "[insert price]" in left.message
    assert "[insert price]" in g.text  # the reviewer sees it where it is


def test_placeholders_removed_with_an_invented_signoff_are_not_flagged() -> None:
    """Eval ticket ev-14 (bundled model): the placeholders sat in the sign-off block that the
    signature fix replaces; a blocking warning about text no longer there only stalls review."""
    draft = (
        "Dear Peter,\n\nWe apologize for the delay with your order #48213.\n\nBest regards,\n"
        "The Support Team\nLocation: [Address]. Our location is [City/Country].\nEmail:"
    )
    g = check_draft(draft, ctx("demo-003"))
    assert "[Address]" not in g.text and g.text.endswith("Best regards,\nThe Support Team")
    assert [w.code for w in g.warnings] == [SIGNATURE]
    kept = check_draft(draft.replace("the delay", "the delay at [Address]"), ctx("demo-003"))
    first = kept.warnings[0]
    assert (first.code, first.blocking) == (PLACEHOLDER, True)
    assert "[Address]" in first.message and "[City" not in first.message


def test_citations_and_removed_links_are_not_placeholders() -> None:
    g = check_draft("Dear Tom,\n\nSee our article [1] and [link removed].\n\nThe Support Team",
                    ctx("demo-010"))  # fmt: skip
    assert g.warnings == []


@pytest.mark.parametrize(
    ("signoff", "was"),
    [
        ("Best regards,\nMaria Lopez", "Maria Lopez"),  # the customer's own name
        ("Kind regards,\nEmma Johnson\nCustomer Care Manager", "Emma Johnson"),  # invented
        ("Best regards,", "it had none"),
    ],
)
def test_signature_is_replaced_by_the_configured_one(signoff: str, was: str) -> None:
    draft = f"Dear Maria,\n\nWe are looking into the double charge.\n\n{signoff}"
    g = check_draft(draft, ctx("demo-001", signature="Acme Support"))
    assert g.text.endswith("\nAcme Support") and "Emma" not in g.text
    assert "Maria Lopez" not in g.text
    sig = next(w for w in g.warnings if w.code == SIGNATURE)
    assert sig.fixed and not sig.blocking and was in sig.message


def test_unsigned_draft_gets_the_signature_and_a_signed_one_is_left_alone() -> None:
    text, replaced = fix_signature("Dear Maria,\n\nDone.", "The Support Team")
    assert text.endswith("Done.\n\nThe Support Team") and replaced == "(no signature)"
    assert fix_signature(text, "The Support Team") == (text, None)


def test_english_reply_to_the_chinese_ticket_is_blocking(detect: Any) -> None:
    draft = (
        "Dear Wei,\n\nThank you for contacting us. We are checking the amount on your last "
        "invoice and a colleague will follow up with you personally.\n\nThe Support Team"
    )
    g = check_draft(draft, ctx("demo-020", language="zh", detect_language=detect))
    lang = next(w for w in g.warnings if w.code == LANGUAGE)
    assert lang.blocking and "'en'" in lang.message and "'zh'" in lang.message


def test_german_draft_in_german_passes_the_language_check(detect: Any) -> None:
    draft = (
        "Hallo Klaus,\n\nvielen Dank für Ihre Nachricht. Wir prüfen Ihre Rechnung und melden "
        "uns so schnell wie möglich bei Ihnen.\n\nMit freundlichen Grüßen\nThe Support Team"
    )
    g = check_draft(draft, ctx("demo-006", language="de", detect_language=detect))
    assert g.warnings == []


def test_promises_are_flagged_for_approval_in_the_ticket_language() -> None:
    draft = (
        "Dear Dana,\n\nWe are sorry about the blender. We will give you a full refund and a "
        "complimentary upgrade.\n\nYou can find more details in our help article "
        "\u201cRefunds policy\u201d [1].\n\nThe Support Team"
    )
    g = check_draft(draft, ctx("demo-004", ignore_in_promises=["Refunds policy"]))
    promise = next(w for w in g.warnings if w.code == PROMISE)
    assert "refund" in promise.message and "complimentary" in promise.message
    assert not promise.blocking  # default: approving is the approval
    spanish = check_draft(
        "Hola Lucia:\n\nLe enviaremos un reembolso completo.\n\nThe Support Team",
        ctx("demo-005", language="es", promise_phrases={"es": ["reembols"]}),
    )
    assert [w.code for w in spanish.warnings] == [PROMISE]
    none = check_draft("Dear Dana,\n\nA colleague will follow up.\n\nThe Support Team",
                       ctx("demo-004", promise_phrases={}))  # fmt: skip
    assert none.warnings == []


def test_blocking_codes_are_configurable() -> None:
    draft = "Dear Maria,\n\nCall 0800 123 4567.\n\nThe Support Team"
    g = check_draft(draft, ctx("demo-001", blocking=frozenset({PROMISE})))
    assert codes(g.warnings) == [(CONTACT, False, False)]


def test_repeated_sentences_are_removed_and_loops_flagged() -> None:
    draft = (
        "Dear Sora,\n\nWe are sorry that the app crashes when you upload photos. Please try "
        "updating the app. We are sorry that the app crashes when you upload photos.\n\n"
        "The Support Team"
    )
    g = check_draft(draft, ctx("demo-008"))
    assert g.text.count("We are sorry that the app crashes") == 1
    assert codes(g.warnings) == [(REPETITION, False, True)]
    looping = "Please try again and again " * 4
    assert loops(looping)
    g = check_draft(f"Dear Sora,\n\n{looping}.\n\nThe Support Team", ctx("demo-008"))
    assert (REPETITION, True, False) in codes(g.warnings)


def test_cut_off_draft_is_trimmed_to_its_last_sentence() -> None:
    draft = (
        "Dear Mohammed,\n\nThank you for contacting us. We are sorry about the 502 error at "
        "checkout. Our team is looking into it and we will"
    )
    g = check_draft(draft, ctx("demo-014"))
    assert "we will" not in g.text
    assert g.text.startswith("Dear Mohammed,\n\nThank you for contacting us. We are sorry")
    assert (TRUNCATED, False, True) in codes(g.warnings)
    # A complete draft is not touched.
    done = check_draft(g.text, ctx("demo-014"))
    assert done.text == g.text and done.warnings == []


def test_a_sign_off_block_before_the_article_pointer_is_replaced() -> None:
    # The bundled model on ev-25 of the evaluation set: a sign-off by the customer and an
    # invented address, then the pointer ticketflow appends.
    draft = (
        "Dear Claire,\n\nWe hope that you're well.\n\nBest regards,\nClaire Bernard\n"
        "Premier de la Support\nCafé Le Bristol\n\nYou can find more details in our help "
        "article \u201cDelivery times and tracking\u201d [1]."
    )
    text, was = fix_signature(draft, "The Support Team")
    assert "Claire Bernard" not in text and "Bristol" not in text
    assert "Best regards,\nThe Support Team\n\nYou can find more details" in text
    assert was is not None and was.startswith("Claire Bernard")
