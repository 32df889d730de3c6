"""The real engine: encoder classifier + language detector + a drafting backend, loaded once.

The classifier always runs on transformers (fp32); drafts come from the backend named in
``TICKETFLOW_DRAFT_BACKEND`` (``worker.engine.drafters``).
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Sequence

import torch

from shared.config import Settings
from shared.taxonomy import load_taxonomy
from worker.engine.base import ChatMessages, Classification, DraftStream, EngineInfo, Watch
from worker.engine.classifier.classifier import TicketClassifier
from worker.engine.device import freed_on_oom, pick_device
from worker.engine.drafters import build_drafter
from worker.engine.language import LanguageDetector
from worker.threads import set_torch_threads

log = logging.getLogger(__name__)


class TransformersEngine:
    def __init__(self, settings: Settings) -> None:
        device = pick_device(settings.device)
        self.threads = set_torch_threads(settings.torch_threads)
        t0 = time.perf_counter()
        self.classifier = TicketClassifier(
            settings.encoder_model,
            load_taxonomy(settings.taxonomy_file),
            settings.heads_dir,
            device,
        )
        t1 = time.perf_counter()
        self.drafter = build_drafter(settings, device)
        self.language = LanguageDetector(settings.languages.split(","))
        t2 = time.perf_counter()
        self.load_seconds = {"classifier": round(t1 - t0, 2), "draft": round(t2 - t1, 2)}
        self.device = device
        self._instance = uuid.uuid4().hex
        # How often (at most) classify looks at the LATEST marker for a newer version.
        self.reload_check_s = settings.classifier_reload_s
        self._next_reload_check = time.monotonic() + self.reload_check_s
        log.info(
            "engine loaded on %s in %s; drafts: %s; %d torch threads",
            device,
            self.load_seconds,
            self.drafter.backend,
            self.threads,
        )

    @property
    def info(self) -> EngineInfo:
        return EngineInfo(
            classifier_model=self.classifier.model_id,
            classifier_version=self.classifier.version,
            draft_model=self.drafter.spec,
            device=str(self.device),
            instance_id=self._instance,
        )

    def maybe_reload_classifier(self) -> bool:
        """Swap in a newly published classifier version, checking at most every few seconds.

        Runs between batches on the batching thread: a batch in flight finishes on the version
        it started with, the next one uses the new version, and no ticket is dropped.
        """
        now = time.monotonic()
        if now < self._next_reload_check:
            return False
        self._next_reload_check = now + self.reload_check_s
        return self.classifier.maybe_reload()

    def classify(self, texts: Sequence[str]) -> list[Classification]:
        self.maybe_reload_classifier()
        version = self.classifier.version  # reloads happen only above, on this thread
        with freed_on_oom(self.device):
            scored = self.classifier.classify(texts)
        out = []
        for text, fields in zip(texts, scored, strict=True):
            alternatives = {f: alts for f, (_, alts) in fields.items()}
            out.append(
                Classification(
                    category=fields["category"][0],
                    priority=fields["priority"][0],
                    sentiment=fields["sentiment"][0],
                    language=self.language.detect(text),
                    alternatives=alternatives,
                    classifier_version=version,
                )
            )
        return out

    def draft(self, chats: Sequence[ChatMessages]) -> list[str]:
        with freed_on_oom(self.device):
            return self.drafter.generate(chats)

    def draft_stream(self, watch: Watch) -> DraftStream | None:
        """Per-ticket drafting where the backend batches continuously (``worker.pipeline.stages``);
        None: the worker drafts in static micro-batches through ``draft``."""
        return self.drafter.stream(watch)

    def control_tokens(self) -> frozenset[str]:
        return self.drafter.control_tokens()

    def close(self) -> None:
        self.drafter.close()

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        emb: torch.Tensor = self.classifier.embed(texts)
        return [row.tolist() for row in emb]

    def warm_up(self) -> None:
        """One dummy batch at start, so a broken model or out-of-memory shows before serving."""
        self.classify(["warm-up: my card payment failed"])
        self.draft([[{"role": "user", "content": "Say hello."}]])
