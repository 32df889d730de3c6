"""Deterministic checks on every draft, the last step before it is stored.

A small model invents phone numbers and email addresses, leaves template placeholders
(``[Your Name]``), signs as someone else, slips into another language, promises refunds, loops
or stops mid-sentence. None of that needs a bigger model to catch. Each check here is a pure
function of the draft and what the draft may rest on (the ticket, the knowledge base, the
settings). Mechanical fixes are applied (the configured signature, the customer's name for a
name placeholder, a repeated sentence, an unfinished last sentence); everything else is
flagged. Warnings are stored with the result and shown to the reviewer; the codes listed in
``TICKETFLOW_DRAFT_BLOCKING_WARNINGS`` keep a draft from being approved unedited.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

# Warning codes, also the values of TICKETFLOW_DRAFT_BLOCKING_WARNINGS.
CONTACT = "contact"
PLACEHOLDER = "placeholder"
SIGNATURE = "signature"
LANGUAGE = "language"
PROMISE = "promise"
REPETITION = "repetition"
TRUNCATED = "truncated"
LANGUAGE_FALLBACK = "language_fallback"
CODES = (CONTACT, PLACEHOLDER, SIGNATURE, LANGUAGE, PROMISE, REPETITION, TRUNCATED,
         LANGUAGE_FALLBACK)  # fmt: skip

# Phrases that commit the company to something an operator wants a person to decide; matched
# at word starts, case-insensitively. TICKETFLOW_DRAFT_PROMISE_PHRASES replaces this table.
DEFAULT_PROMISE_PHRASES: dict[str, list[str]] = {
    "en": ["refund", "reimburs", "credit", "compensat", "free of charge", "complimentary",
           "voucher", "discount", "replacement", "legal", "lawyer", "guarantee"],
    "es": ["reembols", "devolución del dinero", "compensa", "indemniza", "gratis", "gratuit",
           "descuento", "cupón", "abono", "legal", "abogado", "garantiz"],
    "fr": ["rembours", "avoir", "dédommag", "compensation", "gratuit", "geste commercial",
           "réduction", "bon d'achat", "juridique", "avocat", "garanti"],
    "de": ["erstatt", "rückerstatt", "gutschrift", "entschädig", "kostenlos", "gratis",
           "rabatt", "gutschein", "rechtlich", "anwalt", "garantier"],
    "it": ["rimbors", "accredit", "indennizz", "risarci", "gratuit", "omaggio", "sconto",
           "buono", "legale", "avvocato", "garanti"],
    "pt": ["reembols", "crédito", "compensa", "indeniza", "gratuit", "grátis", "desconto",
           "voucher", "jurídic", "advogado", "garanti"],
    "nl": ["terugbetal", "restitu", "tegoed", "compensatie", "vergoed", "gratis", "korting",
           "tegoedbon", "juridisch", "advocaat", "garande"],
}  # fmt: skip

# Sign-offs that open the closing block, per language (compared lower-case, without the comma).
CLOSINGS = (
    "best regards", "kind regards", "warm regards", "regards", "best wishes", "best",
    "sincerely", "yours sincerely", "yours truly", "thanks", "thank you", "many thanks",
    "cheers", "atentamente", "saludos", "un saludo", "saludos cordiales", "cordialement",
    "bien cordialement", "bien à vous", "mit freundlichen grüßen", "mit freundlichen grüssen",
    "viele grüße", "beste grüße", "freundliche grüße", "cordiali saluti", "distinti saluti",
    "saluti", "atenciosamente", "cumprimentos", "com os melhores cumprimentos",
    "met vriendelijke groet", "met vriendelijke groeten", "groeten",
)  # fmt: skip

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+", re.UNICODE)
_URL = re.compile(
    r"(?:https?://|www\.)[^\s<>\"'()\[\]{}«»“”]+"
    r"|\b(?:[a-z0-9-]+\.)+(?:com|net|org|io|co|info|biz|app|help|support|shop|store|eu|uk|de|"
    r"fr|es|it|nl|pt|us|ca)\b(?:/[^\s<>\"'()\[\]{}«»“”]*)?",
    re.IGNORECASE,
)
_PHONE = re.compile(r"(?<![\w#/.,])\+?\(?\d[\d\s().\-/]{5,}\d(?![\w%])")
_DATE = re.compile(r"^\d{4}[-/.]\d{1,2}[-/.]\d{1,2}$|^\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}$")
_TRAILING = ".,;:!?*…)"
# [Your Name], [Customer Name], [insert date], <name>, {customer_name}, {{order}}, XXX-XXX.
_PLACEHOLDER = re.compile(
    r"\[(?!link removed\])[A-Za-z][^\[\]\n]{0,40}\]"
    r"|<\s*[A-Za-z][A-Za-z _-]{0,30}\s*>"
    r"|\{\{?\s*[A-Za-z_][\w ]{0,30}\}?\}"
    r"|\b(?:XXX+|xxx+)\b"
)
_NAME_PLACEHOLDER = re.compile(
    r"(customer|client|recipient|user)?\s*'?s?\s*(first\s*|full\s*)?name|customer|client",
    re.IGNORECASE,
)
_AGENT_PLACEHOLDER = re.compile(
    r"(your|agent|sender|support|representative|company|team)('?s)?\s*(full\s*)?"
    r"(name|signature|team|company)?|signature",
    re.IGNORECASE,
)
_STOPS = ".!?\u3002\uff01\uff1f"  # sentence ends, CJK full stop and full-width marks too
_SENTENCE = re.compile(f"[^{_STOPS}\n]+[{_STOPS}]+")
_ENDS_SENTENCE = re.compile(f"[{_STOPS}…:)\\]»”\"'*]\\s*$")
_WORD = re.compile(r"\w+", re.UNICODE)


@dataclass(frozen=True)
class DraftWarning:
    """One finding for the reviewer; ``fixed``: ticketflow already corrected the draft."""

    code: str
    message: str
    blocking: bool = False
    fixed: bool = False

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class DraftContext:
    """What a draft may rest on, and the rules it must follow."""

    ticket_text: str
    language: str  # the language the draft must be written in
    customer_name: str | None = None
    sources: Sequence[str] = ()  # KB passages and URLs, example replies: allowed contacts
    allowed_contacts: Sequence[str] = ()  # TICKETFLOW_DRAFT_ALLOWED_CONTACTS
    signature: str = "The Support Team"
    promise_phrases: Mapping[str, Sequence[str]] = field(
        default_factory=lambda: DEFAULT_PROMISE_PHRASES
    )
    ignore_in_promises: Sequence[str] = ()  # e.g. cited article titles ("Refunds policy")
    blocking: frozenset[str] = frozenset({CONTACT, PLACEHOLDER, LANGUAGE, REPETITION})
    detect_language: Callable[[str], str] | None = None


@dataclass(frozen=True)
class GuardedDraft:
    text: str
    warnings: list[DraftWarning]


def _warn(ctx: DraftContext, code: str, message: str, fixed: bool = False) -> DraftWarning:
    return DraftWarning(code, message, blocking=code in ctx.blocking and not fixed, fixed=fixed)


# --- Contact details -------------------------------------------------------------------------


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text)


def _phones(text: str) -> list[str]:
    out = []
    for m in _PHONE.finditer(text):
        raw = m.group(0).strip(" -./(")
        digits = _digits(raw)
        if 7 <= len(digits) <= 15 and not _DATE.match(raw) and not re.fullmatch(r"[\d.,]+", raw):
            out.append(raw)
    return out


def _urls(text: str) -> list[str]:
    no_mail = _EMAIL.sub(" ", text)
    return [m.group(0).rstrip(_TRAILING) for m in _URL.finditer(no_mail)]


def _url_key(url: str) -> str:
    return re.sub(r"^(?:https?://)?(?:www\.)?", "", url.lower()).rstrip("/")


def invented_contacts(draft: str, known: Sequence[str]) -> list[str]:
    """Emails, phone numbers and links in ``draft`` that none of the ``known`` texts contain."""
    known_text = "\n".join(known)
    emails = {e.lower() for e in _EMAIL.findall(known_text)}
    phones = {_digits(p) for p in _phones(known_text)}
    urls = [_url_key(u) for u in _urls(known_text)]
    found = [e for e in _EMAIL.findall(draft) if e.lower() not in emails]
    found += [p for p in _phones(_EMAIL.sub(" ", draft)) if _digits(p) not in phones]
    for u in _urls(draft):
        key = _url_key(u)
        # A known link's host alone ("acme.com" for "https://acme.com/help") is known too.
        if not any(k == key or k.startswith(key + "/") for k in urls):
            found.append(u)
    return list(dict.fromkeys(found))


# --- Placeholders and signature --------------------------------------------------------------


def _first_name(name: str | None) -> str:
    parts = (name or "").split()
    return parts[0] if parts else ""


def fix_placeholders(draft: str, ctx: DraftContext) -> tuple[str, list[str], list[str]]:
    """Fill the customer's name and the agent's signature; returns (text, fixed, left)."""
    fixed: list[str] = []
    left: list[str] = []
    first = _first_name(ctx.customer_name)

    def swap(m: re.Match[str]) -> str:
        token = m.group(0)
        inner = token.strip("[]<>{} ")
        if first and _NAME_PLACEHOLDER.fullmatch(inner):
            fixed.append(token)
            return first
        if _AGENT_PLACEHOLDER.fullmatch(inner):
            fixed.append(token)
            return ctx.signature
        left.append(token)
        return token

    return _PLACEHOLDER.sub(swap, draft), fixed, left


def _is_closing(line: str) -> bool:
    return line.strip().rstrip(",.!").strip().lower() in CLOSINGS


def fix_signature(draft: str, signature: str) -> tuple[str, str | None]:
    """The draft signed with ``signature``; returns (text, what was replaced or None).

    The lines after the last sign-off ("Best regards,") up to the next blank line are the
    signature, wherever the block stands (a pointer to a help article may follow it). A draft
    with none gets the configured one appended, so every reply is signed the same way.
    """
    lines = draft.rstrip().split("\n")
    closing = next((i for i in range(len(lines) - 1, -1, -1) if _is_closing(lines[i])), None)
    if closing is None:
        if lines and lines[-1].strip() == signature:
            return draft.rstrip(), None
        return f"{draft.rstrip()}\n\n{signature}", "(no signature)"
    end = closing + 1
    while end < len(lines) and lines[end].strip():
        end += 1
    block = "\n".join(lines[closing + 1 : end]).strip()
    if block == signature:
        return draft.rstrip(), None
    rest = "\n".join(lines[end:]).strip()
    # A bare configured signature left after the block (appended earlier) is not repeated.
    rest = "" if rest == signature else rest
    head = "\n".join(lines[: closing + 1]).rstrip()
    signed = f"{head}\n{signature}" + (f"\n\n{rest}" if rest else "")
    return signed, block or "(no signature)"


def _body(draft: str, signature: str) -> str:
    """The draft without its sign-off block (or its bare signature line)."""
    lines = draft.rstrip().split("\n")
    closing = next((i for i in range(len(lines) - 1, -1, -1) if _is_closing(lines[i])), None)
    if closing is None and lines and lines[-1].strip() == signature:
        closing = len(lines) - 1
    return "\n".join(lines[:closing] if closing is not None else lines).rstrip()


# --- Repetition and cut-off ------------------------------------------------------------------


def drop_repeated_sentences(draft: str) -> tuple[str, int]:
    """Remove the second and later copies of a sentence (20+ characters); returns the count."""
    seen: set[str] = set()
    dropped = 0

    def once(m: re.Match[str]) -> str:
        nonlocal dropped
        key = " ".join(_WORD.findall(m.group(0).lower()))
        if len(key) < 20:
            return m.group(0)
        if key in seen:
            dropped += 1
            return ""
        seen.add(key)
        return m.group(0)

    text = _SENTENCE.sub(once, draft)
    return re.sub(r"[ \t]{2,}", " ", re.sub(r"\n{3,}", "\n\n", text)).strip(), dropped


def loops(text: str, n: int = 5, times: int = 3) -> bool:
    """A run of ``n`` words that comes back ``times`` times: the model is looping."""
    words = [w.lower() for w in _WORD.findall(text)]
    counts: dict[tuple[str, ...], int] = {}
    for i in range(len(words) - n + 1):
        gram = tuple(words[i : i + n])
        counts[gram] = counts.get(gram, 0) + 1
        if counts[gram] >= times:
            return True
    return False


def trim_unfinished(body: str) -> tuple[str, bool]:
    """Cut an unfinished last paragraph back to its last complete sentence."""
    paras = body.rstrip().split("\n\n")
    last = paras[-1].rstrip()
    if len(paras) == 1 and last.endswith(","):  # only a greeting: nothing was cut
        return body, False
    if not last or _ENDS_SENTENCE.search(last) or _is_closing(last):
        return body, False
    ends = [m.end() for m in re.finditer(f"[{_STOPS}](?=\\s|$)", last)]
    paras[-1] = last[: ends[-1]] if ends else ""
    return "\n\n".join(p for p in paras if p.strip()).rstrip(), True


# --- Language and promises -------------------------------------------------------------------


def _for_language_check(text: str) -> str:
    text = re.sub(r"\[[^\]]*\]", " ", text)
    return " ".join(_URL.sub(" ", _EMAIL.sub(" ", text)).split())


def promises(draft: str, ctx: DraftContext) -> list[str]:
    """Operator-listed phrases in the draft (its language's list, and English's)."""
    text = draft.lower()
    for title in ctx.ignore_in_promises:
        if title:
            text = text.replace(title.lower(), " ")
    phrases = [*ctx.promise_phrases.get(ctx.language, ()), *ctx.promise_phrases.get("en", ())]
    found = []
    for phrase in dict.fromkeys(p.lower() for p in phrases if p.strip()):
        if re.search(rf"(?<!\w){re.escape(phrase)}", text):
            found.append(phrase)
    return found


# --- All checks ------------------------------------------------------------------------------


def check_draft(draft: str, ctx: DraftContext) -> GuardedDraft:
    """Apply the mechanical fixes and return the draft with every warning, in a fixed order."""
    warnings: list[DraftWarning] = []
    text, dropped = drop_repeated_sentences(draft)
    if dropped:
        warnings.append(
            _warn(ctx, REPETITION, f"{dropped} repeated sentence(s) removed.", fixed=True)
        )
    if loops(text):
        warnings.append(_warn(ctx, REPETITION, "The draft repeats itself: rewrite it."))
    body, cut = trim_unfinished(_body(text, ctx.signature))
    if cut:
        tail = text[len(_body(text, ctx.signature)) :]
        text = f"{body}{tail}" if body else tail.strip()
        warnings.append(
            _warn(ctx, TRUNCATED, "The draft was cut off; its unfinished end was removed.", True)
        )
    text, fixed, left = fix_placeholders(text, ctx)
    if fixed:
        warnings.append(
            _warn(ctx, PLACEHOLDER, f"Placeholders filled in: {', '.join(fixed)}.", fixed=True)
        )
    at = len(warnings)
    text, replaced = fix_signature(text, ctx.signature)
    if replaced is not None:
        was = "it had none" if replaced == "(no signature)" else f"was {replaced!r}"
        warnings.append(_warn(ctx, SIGNATURE, f"Signed as {ctx.signature!r} ({was}).", fixed=True))
    # Only what is still there: a placeholder inside an invented sign-off block goes with it.
    left = [token for token in dict.fromkeys(left) if token in text]
    if left:
        warnings.insert(at, _warn(ctx, PLACEHOLDER, f"Unfilled placeholders: {', '.join(left)}."))
    invented = invented_contacts(
        text, [ctx.ticket_text, *ctx.sources, *ctx.allowed_contacts, ctx.signature]
    )
    if invented:
        warnings.append(
            _warn(
                ctx,
                CONTACT,
                "Contact details found in neither the ticket, the knowledge base nor the "
                f"settings: {', '.join(invented)}.",
            )
        )
    sample = _for_language_check(_body(text, ctx.signature))
    checkable = ctx.language not in ("und", "")
    if checkable and ctx.detect_language is not None and len(_WORD.findall(sample)) >= 6:
        found = ctx.detect_language(sample)
        if found not in (ctx.language, "und"):
            warnings.append(
                _warn(ctx, LANGUAGE, f"The draft reads as {found!r}, not {ctx.language!r}.")
            )
    promised = promises(_body(text, ctx.signature), ctx)
    if promised:
        warnings.append(
            _warn(
                ctx,
                PROMISE,
                f"Commitments that need your approval: {', '.join(promised)}.",
            )
        )
    return GuardedDraft(text, warnings)


def blocking(warnings: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The stored warnings that keep a draft from being approved unedited."""
    return [w for w in warnings if w.get("blocking")]
