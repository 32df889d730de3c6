"""Language detection (langdetect: offline, 55 languages), with a confidence."""

from __future__ import annotations

from langdetect import DetectorFactory, detect_langs
from langdetect.lang_detect_exception import LangDetectException

from worker.engine.base import Label

DetectorFactory.seed = 0  # langdetect is random by default; make results repeatable


def detect_language(text: str) -> Label:
    try:
        best = detect_langs(text)[0]
    except LangDetectException:
        return Label("und", 0.0)
    return Label(best.lang, round(float(best.prob), 4))
