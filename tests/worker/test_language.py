"""Language detection: text with no language in it is undetermined, not a guess."""

from __future__ import annotations

import pytest

from shared.config import load_settings
from worker.engine.language import UNDETERMINED, LanguageDetector


@pytest.fixture(scope="module")
def detector() -> LanguageDetector:
    return LanguageDetector(load_settings().languages.split(","))


@pytest.mark.parametrize("text", ["12345 !!!", "\U0001f621\U0001f621\U0001f621", "#4432 ??", " "])
def test_text_without_letters_is_undetermined(detector: LanguageDetector, text: str) -> None:
    assert detector.detect(text) == UNDETERMINED


def test_real_text_keeps_its_language(detector: LanguageDetector) -> None:
    fr = detector.detect("Bonjour, ma commande n'est pas arrivée")
    assert fr.name == "fr" and fr.confidence > 0.5
    assert detector.detect("订单没有到").name == "zh"
