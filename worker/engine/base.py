"""The narrow interface between the worker and its models.

The worker only ever calls ``classify`` and ``draft`` on a batch. A real transformers engine
and a small deterministic one (for unit tests) implement it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Protocol

# A chat for the draft model: [{"role": "system"|"user"|"assistant", "content": "..."}].
ChatMessages = list[dict[str, str]]
# Times one model call for the stall watchdog: ``with watch(texts): step()``.
Watch = Callable[[int], AbstractContextManager[None]]


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

    def stream(self, watch: Watch) -> DraftStream | None:
        """Per-ticket drafting (continuous batching across tickets), or None where the backend
        drafts in static batches only. ``watch`` times each model step for the watchdog."""
        ...

    def close(self) -> None:
        """Free what outlives the Python object (vLLM's engine-core process), so the worker
        process can exit; called once when the worker stops."""
        ...


class DraftStream(Protocol):
    """Drafts one prompt at a time on an engine that batches continuously (vLLM, transformers'
    continuous-batching manager): a prompt joins the running batch when it arrives and its
    caller gets the draft back as soon as *it* is done, not when the batch's longest is."""

    def submit(self, chat: ChatMessages, timeout: float | None = None) -> str:
        """Block until this chat's draft is done; raises what its generation raised."""
        ...

    def close(self) -> None:
        """Stop the stream's thread; prompts still running get an error."""
        ...
