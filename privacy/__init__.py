"""Personal data redaction: typed placeholders before any model sees a ticket, safe values after.

Torch-free and dependency-light on purpose, so the producer, the worker and the benchmarks can all
import it. ``recognizers`` finds values, ``redact`` replaces them with ``[CARD_1]``-style
placeholders (remembering each value in a ``Vault``), ``restore`` puts safe forms back into a
draft for the reviewer.
"""

from privacy.recognizers import ENTITY_TYPES, Span
from privacy.redact import Redactor, Vault
from privacy.restore import restore

__all__ = ["ENTITY_TYPES", "Redactor", "Span", "Vault", "restore"]
