"""Citation markers in drafts: which shown passages are cited, and dangling numbers removed."""

from __future__ import annotations

import pytest

from worker.citations import annotate, cited_numbers, drop_unknown_markers


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
