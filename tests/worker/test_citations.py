"""Citation markers in drafts: which shown passages are cited, and dangling numbers removed."""

from __future__ import annotations

import pytest

from worker.drafting.citations import (
    annotate,
    cited_numbers,
    drop_unknown_links,
    drop_unknown_markers,
    finish_draft,
    urls_in,
)


def shown(k: int) -> list[dict[str, object]]:
    return [{"n": n, "doc_id": f"doc-{n}"} for n in range(1, k + 1)]


@pytest.mark.parametrize(
    ("draft", "numbers"),
    [
        ("See [1].", {1}),
        ("See [1][3] and [2, 3].", {1, 2, 3}),
        ("No sources here; [x] is a checkbox and 1 is a number.", set()),
        ("Step [ ] done", set()),
    ],
)
def test_cited_numbers(draft: str, numbers: set[int]) -> None:
    assert cited_numbers(draft) == numbers


def test_unknown_numbers_are_removed_and_spacing_repaired() -> None:
    cleaned = drop_unknown_markers("Reset it [4]. Then log in [1, 5].", 2)
    assert cleaned == "Reset it. Then log in [1]."
    assert drop_unknown_markers("Nothing to cite [0].", 0) == "Nothing to cite."


def test_annotate_flags_only_cited_passages() -> None:
    draft, cites = annotate("Per [2] you can cancel [7].", shown(3))
    assert draft == "Per [2] you can cancel."
    assert [c["cited"] for c in cites] == [False, True, False]
    assert [c["doc_id"] for c in cites] == ["doc-1", "doc-2", "doc-3"]


def test_annotate_without_passages_strips_every_marker() -> None:
    assert annotate("As policy [1] says.", []) == ("As policy says.", [])


def test_links_not_from_the_knowledge_base_are_removed() -> None:
    allowed = urls_in(["See https://help.example.com/refunds.", None])
    draft = (
        "Read https://help.example.com/refunds, or www.fabbysale.com/deal and "
        "(https://evil.example/x?y=1)."
    )
    assert drop_unknown_links(draft, allowed) == (
        "Read https://help.example.com/refunds, or [link removed] and ([link removed])."
    )


@pytest.mark.parametrize(
    ("draft", "expected"),
    [
        ("Click [here](javascript:alert(1)) now", "Click [here]([link removed](1)) now"),
        ("Open data:text/html;base64,PHNjcmlwdD4= now", "Open [link removed] now"),
        ("Go to evil.example.com/reset or evil.io.", "Go to [link removed] or [link removed]."),
        ("ftp://x.example/z, file:///etc/passwd", "[link removed], [link removed]"),
        ("Mail a.b@example.com e.g. now. Note:ok at 10:30, v1.2.3", None),  # not links
        ("See https://help.example.com/refunds.", None),  # from the knowledge base
    ],
)
def test_only_http_links_from_the_knowledge_base_survive(draft: str, expected: str | None) -> None:
    allowed = urls_in(["See https://help.example.com/refunds."])
    assert drop_unknown_links(draft, allowed) == (expected or draft)


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("en", "help article \u201cRefunds\u201d: https://help.example.com/r [1]."),
        ("de", "Hilfeartikel \u201eRefunds\u201c: https://help.example.com/r [1]."),
    ],
)
def test_uncited_draft_gets_a_pointer_in_the_customers_language(
    language: str, expected: str
) -> None:
    shown = [{"n": 1, "title": "Refunds", "url": "https://help.example.com/r"}]
    draft, cites = finish_draft("Hello.\n\nBye", shown, language, ["Refunds take 5 days."])
    assert draft.startswith("Hello.\n\nBye\n\n") and draft.endswith(expected)
    assert cites == [{**shown[0], "cited": True, "appended": True}]


def test_no_pointer_where_the_draft_cites_or_the_language_has_no_wording() -> None:
    shown = [{"n": 1, "title": "A", "url": None}, {"n": 2, "title": "B", "url": None}]
    cited, cites = finish_draft("As [2] says.", shown, "en", [])
    assert cited == "As [2] says." and [c["cited"] for c in cites] == [False, True]
    assert "appended" not in cites[1]
    draft, cites = finish_draft("\u597d\u7684\u3002", shown, "zh", [])
    assert draft == "\u597d\u7684\u3002" and not any(c["cited"] for c in cites)
    assert finish_draft("Hi", [], "en", []) == ("Hi", [])


KB_LINK = "https://help.example.com/a1"


@pytest.mark.parametrize(
    "draft",
    [
        f"Read \u201c{KB_LINK}\u201d now.",
        f"\u8bf7\u8bbf\u95ee {KB_LINK}\u3002\u8c22\u8c22",
        f"Lisez \u00ab{KB_LINK}\u00bb merci.",
        f"Read **{KB_LINK}** now.",
        f"See {KB_LINK}... or ({KB_LINK}).",
    ],
)
def test_a_kb_link_keeps_the_punctuation_that_closes_it(draft: str) -> None:
    assert drop_unknown_links(draft, urls_in([f"Details: {KB_LINK}."])) == draft


def test_upper_case_links_are_checked_like_any_other() -> None:
    allowed = urls_in([KB_LINK])
    assert drop_unknown_links("HTTPS://HELP.example.com/a1 ok", allowed).startswith("HTTPS://")
    assert drop_unknown_links("HTTPS://EVIL.example/x", allowed) == "[link removed]"
    assert drop_unknown_links("HTTPS://help.example.com/A1", allowed) == "[link removed]"


def test_three_digit_markers_beyond_the_passages_are_removed() -> None:
    assert drop_unknown_markers("See [100] and [2, 123].", 3) == "See and [2]."
