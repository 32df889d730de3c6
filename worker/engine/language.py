"""Language detection with lingua: accurate on the short texts tickets often are, offline.

langdetect was tried first and called "Hola, mi pedido no ha llegado todavía" Portuguese;
lingua gets such sentences right. Limiting it to the languages a team expects sharpens its
confidences (they are relative to the candidate set).
"""

from __future__ import annotations

from lingua import IsoCode639_1, LanguageDetectorBuilder

from shared.errors import ConfigError
from worker.engine.base import Label

UNDETERMINED = Label("und", 0.0)
# Text without letters ("12345 !!!", emoji) gives every language 0.0: the first of the list
# would otherwise win, and the prompt would ask for a reply in, say, Swedish.
MIN_CONFIDENCE = 0.01


class LanguageDetector:
    def __init__(self, codes: list[str]) -> None:
        try:
            isos = [getattr(IsoCode639_1, c.strip().upper()) for c in codes if c.strip()]
        except AttributeError as err:
            raise ConfigError(f"TICKETFLOW_LANGUAGES: unknown ISO 639-1 code ({err})") from None
        builder = (
            LanguageDetectorBuilder.from_iso_codes_639_1(*isos)
            if len(isos) >= 2
            else LanguageDetectorBuilder.from_all_languages()
        )
        self._detector = builder.with_preloaded_language_models().build()

    def detect(self, text: str) -> Label:
        values = self._detector.compute_language_confidence_values(text)
        if not values or not text.strip():
            return UNDETERMINED
        best = values[0]
        if best.value <= MIN_CONFIDENCE:
            return UNDETERMINED
        return Label(best.language.iso_code_639_1.name.lower(), round(float(best.value), 4))
