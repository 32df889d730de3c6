"""Each recognizer finds what it should and leaves ordinary numbers and words alone."""

import pytest

from privacy import Redactor, Vault, restore
from privacy.recognizers import iban_ok, luhn_ok

PLANTED = {
    "CARD": "4111 1111 1111 1111",
    "IBAN": "DE89 3704 0044 0532 0130 00",
    "SSN": "078-05-1120",
    "EMAIL": "john.doe@example.com",
    "PHONE": "+1 415-555-2671",
    "IP": "203.0.113.42",
    "SECRET": "ghp_abcdefghijklmnopqrstuvwxyz0123456789",
}


def redact(text: str, **kw: object) -> tuple[str, Vault]:
    vault = Vault()
    return Redactor(**kw).redact(text, vault), vault  # type: ignore[arg-type]


def test_every_planted_value_becomes_a_typed_placeholder() -> None:
    text = " and ".join(f"{k.lower()} {v}" for k, v in PLANTED.items())
    out, vault = redact(text)
    for kind, value in PLANTED.items():
        assert value not in out
        assert f"[{kind}_1]" in out
        assert vault.values[f"[{kind}_1]"] == (kind, value)


@pytest.mark.parametrize(
    "text",
    [
        "Order 12345678 arrived on 2024-01-05 at 10:30:00, total $1,234.56.",
        "Tracking 1Z999AA10123456784 and invoice INV-2024-0042, version 1.2.3.4.5",
        "My password doesn't work and the token expired, see article 4.",
        "My PIN is locked, my PIN was entered wrong, the password was reset: unblock it.",
        "Card 4111 1111 1111 1112 (not Luhn), SSN 000-12-3456, 666-12-3456, 912-12-3456",
        "IBAN DE89 3704 0044 0532 0130 01 has a wrong check digit; 999.1.1.1 is no address",
        "Call me at 555-0000 maybe",  # not a valid US number
    ],
)
def test_ordinary_text_is_left_alone(text: str) -> None:
    assert redact(text)[0] == text


def test_validators() -> None:
    assert luhn_ok("4111111111111111") and not luhn_ok("4111111111111112")
    assert iban_ok("GB82WEST12345698765432") and not iban_ok("GB82WEST12345698765433")


def test_iban_followed_by_words_and_lowercase() -> None:
    out, _ = redact("iban gb82 west 1234 5698 7654 32 please refund")
    assert out == "iban [IBAN_1] please refund"


def test_secrets_after_a_keyword_and_known_formats() -> None:
    out, _ = redact("password: Hunter2!x, my pin is 4821 and key AKIAIOSFODNN7EXAMPLE ok")
    assert "Hunter2" not in out and "4821" not in out and "AKIA" not in out
    assert out.count("[SECRET_") == 3


def test_same_value_same_placeholder_across_texts() -> None:
    r, vault = Redactor(), Vault()
    a = r.redact("mail John.Doe@example.com", vault)
    b = r.redact("again john.doe@example.com, card 4111-1111-1111-1111", vault)
    assert a == "mail [EMAIL_1]" and b == "again [EMAIL_1], card [CARD_1]"


def test_entity_types_are_configurable_and_others_can_be_added() -> None:
    out, _ = redact("card 4111 1111 1111 1111 mail a@b.example", entities=("email",))
    assert out == "card 4111 1111 1111 1111 mail [EMAIL_1]"
    out, vault = redact("NINO QQ123456C", extra_patterns={"NINO": r"\b[A-Z]{2}\d{6}[A-D]\b"})
    assert out == "NINO [NINO_1]"
    assert restore("id [NINO_1]", vault) == "id \u2022\u2022\u2022\u2022 456C"
    assert redact("a@b.example 4111 1111 1111 1111", entities=())[0].startswith("a@b")
    with pytest.raises(ValueError, match="unknown entity types: passport"):
        Redactor(("passport",))


def test_restore_gives_safe_values_only() -> None:
    text = " and ".join(PLANTED.values())
    _, vault = redact(text)
    draft = "Card [CARD_1], IBAN [IBAN_1], SSN [SSN_1], [EMAIL_1], [PHONE_1], [IP_1], [SECRET_1]"
    shown = restore(draft, vault)
    assert shown == (
        "Card \u2022\u2022\u2022\u2022 1111, IBAN \u2022\u2022\u2022\u2022 3000, "
        "SSN \u2022\u2022\u2022\u2022 1120, john.doe@example.com, +1 415-555-2671, "
        "203.0.113.42, [withheld]"
    )
    # A placeholder the model made up shows as removed; text that only looks like one stays.
    assert restore("[CARD_7] [STEP_1]", vault) == "[removed] [STEP_1]"


def test_customer_cannot_plant_a_placeholder() -> None:
    out, _ = redact("my card is [CARD_1] and 4111 1111 1111 1111")
    assert out == "my card is (CARD_1) and [CARD_1]"
