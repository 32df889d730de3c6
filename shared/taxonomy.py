"""The label taxonomy (categories, priorities, sentiments with descriptions), from a JSON file.

Both sides need it: the worker scores tickets against the descriptions, the API checks that a
reviewer's corrected label exists.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, Field, ValidationError, field_validator

from shared.errors import ConfigError

DEFAULT_TAXONOMY = Path(__file__).parent / "taxonomy.json"


class Taxonomy(BaseModel):
    """Label name -> description, per field. Descriptions drive the zero-shot heads."""

    categories: dict[str, str] = Field(min_length=2)
    priorities: dict[str, str] = Field(min_length=2)
    sentiments: dict[str, str] = Field(min_length=2)
    # Optional example texts per field and label; they sharpen the zero-shot heads.
    examples: dict[str, dict[str, list[str]]] = Field(default_factory=dict)

    @field_validator("categories", "priorities", "sentiments")
    @classmethod
    def _non_empty(cls, v: dict[str, str]) -> dict[str, str]:
        for name, desc in v.items():
            if not name.strip() or not desc.strip():
                raise ValueError(f"label {name!r} needs a name and a description")
        return v

    def labels(self, field: str) -> list[str]:
        return list(getattr(self, field))

    def label_examples(self, field: str, label: str) -> list[str]:
        return self.examples.get(field, {}).get(label, [])


@lru_cache(maxsize=4)
def load_taxonomy(path: Path | None = None) -> Taxonomy:
    p = path or DEFAULT_TAXONOMY
    try:
        return Taxonomy.model_validate(json.loads(p.read_text(encoding="utf-8")))
    except FileNotFoundError:
        raise ConfigError(f"TICKETFLOW_TAXONOMY_FILE: no such file {p}") from None
    except (json.JSONDecodeError, ValidationError) as err:
        raise ConfigError(f"TICKETFLOW_TAXONOMY_FILE: {p} is not a valid taxonomy: {err}") from None


# Classified field -> the taxonomy attribute that lists its labels.
TAXONOMY_FIELDS = {"category": "categories", "priority": "priorities", "sentiment": "sentiments"}
# The classified label fields, in this order everywhere (classifier heads, training, reviews).
LABEL_FIELDS = tuple(TAXONOMY_FIELDS)


def current_labels(taxonomy: Taxonomy, heads_dir: Path) -> dict[str, list[str]]:
    """The labels workers predict now, per field: a trained version's labels (``meta.json`` of
    the version ``LATEST`` names) replace the taxonomy's for the fields it trained.

    Read as JSON so the API can check reviewers' corrections without importing torch.
    """
    labels = {field: taxonomy.labels(tax) for field, tax in TAXONOMY_FIELDS.items()}
    try:
        version = (heads_dir / "LATEST").read_text(encoding="utf-8").strip()
        meta = json.loads((heads_dir / version / "meta.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return labels
    trained = meta.get("labels") or {}
    return {f: list(trained.get(f) or v) for f, v in labels.items()}
