"""The narrow interface between the worker and its models.

The worker only ever calls ``classify`` and ``draft`` on a batch. A real transformers engine
and a small deterministic one (for unit tests) implement it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

# A chat for the draft model: [{"role": "system"|"user"|"assistant", "content": "..."}].
ChatMessages = list[dict[str, str]]


@dataclass(frozen=True)
class Label:
    name: str
    confidence: float


@dataclass(frozen=True)
class Classification:
    """One ticket's labels; ``alternatives`` holds the runner-up labels per field."""

    category: Label
    priority: Label
    sentiment: Label
    language: Label
    alternatives: dict[str, list[Label]] = field(default_factory=dict)
    # The classifier version that produced these labels (a reload may happen between batches).
    classifier_version: str = ""


@dataclass(frozen=True)
class EngineInfo:
    classifier_model: str
    classifier_version: str
    draft_model: str
    device: str
    instance_id: str  # unique per loaded engine: proves the model is loaded once per process


class Engine(Protocol):
    @property
    def info(self) -> EngineInfo:
        """Model ids and versions, recorded with every result."""
        ...

    def classify(self, texts: Sequence[str]) -> list[Classification]:
        """Label a batch of ticket texts in one forward pass."""
        ...

    def draft(self, chats: Sequence[ChatMessages]) -> list[str]:
        """Generate one reply per chat, batched."""
        ...

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """Sentence embeddings (unit length), used for knowledge-base retrieval."""
        ...

    def warm_up(self) -> None:
        """Run a dummy batch through every model before the first message is taken, so a bad
        model or out-of-memory shows at start and the first ticket pays no lazy set-up."""
        ...


class Drafter(Protocol):
    """One drafting backend (transformers, vLLM): same prompts, same greedy settings.

    ``unsupported`` lists the generation settings this backend cannot honour, in words; the
    backend logs them at start so nothing is dropped silently.
    """

    backend: str
    spec: str
    unsupported: list[str]

    def generate(self, chats: Sequence[ChatMessages]) -> list[str]:
        """One draft per chat, in order."""
        ...

    def control_tokens(self) -> frozenset[str]:
        """The loaded tokenizer's special and added tokens, which customer text must not spell."""
        ...

    def close(self) -> None:
        """Free what outlives the Python object (vLLM's engine-core process), so the worker
        process can exit; called once when the worker stops."""
        ...
