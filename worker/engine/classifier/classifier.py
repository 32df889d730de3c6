"""The ticket classifier: encoder + one head per field, zero-shot until a trained version exists."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from shared.errors import ConfigError
from shared.taxonomy import Taxonomy
from worker.engine.base import Label
from worker.engine.classifier.artifacts import latest_version, load_artifact
from worker.engine.classifier.encoder import SentenceEncoder
from worker.engine.classifier.heads import ARTIFACT_ENCODER, BASE_ENCODER, Head
from worker.engine.classifier.zero_shot import zero_shot_heads

log = logging.getLogger(__name__)

ZERO_SHOT_VERSION = "zero-shot"


@dataclass(frozen=True)
class _Loaded:
    """Everything one version needs; swapped as one reference so a batch never mixes two."""

    version: str
    heads: dict[str, Head]
    tuned: SentenceEncoder | None = None
    meta: dict[str, Any] = field(default_factory=dict)


class TicketClassifier:
    """Scores a batch of texts for every field; swaps to a newer trained version on request.

    Fields without a trained head keep their zero-shot head on the base encoder, because a
    fine-tuned encoder no longer places tickets near the taxonomy's descriptions.
    """

    def __init__(
        self,
        encoder_spec: str,
        taxonomy: Taxonomy,
        heads_dir: Path,
        device: torch.device,
        top_k: int = 3,
    ) -> None:
        self.encoder_spec = encoder_spec
        self.taxonomy = taxonomy
        self.heads_dir = heads_dir
        self.device = device
        self.top_k = top_k
        self._reload_lock = threading.Lock()
        self._failed: set[str] = set()  # versions that failed to load
        self._reported: set[str] = set()  # problems logged already (polling repeats them)
        self.base_encoder = SentenceEncoder(encoder_spec, device)
        self._zero_shot = zero_shot_heads(self.base_encoder, taxonomy)
        self._state = _Loaded(ZERO_SHOT_VERSION, dict(self._zero_shot))
        self.maybe_reload()

    @property
    def version(self) -> str:
        return self._state.version

    @property
    def heads(self) -> dict[str, Head]:
        return self._state.heads

    @property
    def model_id(self) -> str:
        return self.encoder_spec

    def maybe_reload(self) -> bool:
        """Pick up the version LATEST points at, if it is not the one loaded; True if swapped.

        Never raises: a version that fails to load is logged once and skipped, and the worker
        keeps classifying with what it has. Concurrent callers do not load twice.
        """
        if not self._reload_lock.acquire(blocking=False):
            return False
        try:
            try:
                version = latest_version(self.heads_dir)
            except ConfigError as err:
                self._log_once("cannot tell which version LATEST names", err)
                return False
            if version is None or version == self.version or version in self._failed:
                return False
            try:
                self.use_version(version)
            except Exception as err:
                self._failed.add(version)
                self._log_once(f"classifier version {version} failed to load", err)
                return False
            return True
        finally:
            self._reload_lock.release()

    def _log_once(self, what: str, err: Exception) -> None:
        """A ``ConfigError`` says all there is to say; anything else gets its traceback."""
        key = f"{what}: {err}"
        if key in self._reported:
            return
        self._reported.add(key)
        if isinstance(err, ConfigError):
            log.error("%s; staying on %s: %s", what, self.version, err)
        else:
            log.error("%s; staying on %s", what, self.version, exc_info=err)

    def use_version(self, version: str) -> None:
        """Load ``version`` (warming its encoder) and switch to it; raises if it is unusable."""
        heads, meta, encoder_dir = load_artifact(self.heads_dir, version)
        for f, head in heads.items():
            if head.encoder == BASE_ENCODER and head.kind != "zero-shot":
                trained_on = meta.get("base_encoder", self.encoder_spec)
                if trained_on != self.encoder_spec or head.weight.shape[1] != self.base_encoder.dim:
                    raise ConfigError(
                        f"version {version}: head {f!r} was trained on encoder "
                        f"{trained_on}, this worker runs {self.encoder_spec}"
                    )
        tuned = None
        if any(h.encoder == ARTIFACT_ENCODER for h in heads.values()):
            if encoder_dir is None:
                raise ConfigError(f"version {version}: heads need the artifact's encoder/")
            tuned = SentenceEncoder(
                str(encoder_dir), self.device, max_length=int(meta.get("max_length", 256))
            )
            tuned.embed(["warm-up"])  # a broken encoder shows here, not on a ticket
        state = _Loaded(version, {**self._zero_shot, **heads}, tuned, meta)
        self._check(state)
        self._state = state
        log.info("classifier now at version %s (%s)", version, meta.get("summary", ""))

    def _check(self, state: _Loaded) -> None:
        """A head whose weights do not match its labels would fail every ticket (an index past
        the labels): refuse the version on load, and try one text through it."""
        for f, head in state.heads.items():
            n, w, b = len(head.labels), tuple(head.weight.shape), tuple(head.bias.shape)
            if n == 0 or len(w) != 2 or w[0] != n or b != (n,):
                raise ConfigError(
                    f"version {state.version}: head {f!r} has {n} labels, weight {w}, bias {b}"
                )
        _, _, probs = self._probabilities(state, ["warm-up: my card payment failed"])
        for f, p in probs.items():
            if tuple(p.shape) != (1, len(state.heads[f].labels)) or not bool(p.isfinite().all()):
                raise ConfigError(f"version {state.version}: head {f!r} gives no usable scores")

    def probabilities(
        self, texts: Sequence[str]
    ) -> tuple[str, dict[str, Head], dict[str, torch.Tensor]]:
        """The version used, its heads, and each field's (n_texts, n_labels) probabilities."""
        return self._probabilities(self._state, texts)

    def _probabilities(
        self, state: _Loaded, texts: Sequence[str]
    ) -> tuple[str, dict[str, Head], dict[str, torch.Tensor]]:
        emb: dict[str, torch.Tensor] = {}
        out = {}
        for f, head in state.heads.items():
            if head.encoder not in emb:
                enc = state.tuned if head.encoder == ARTIFACT_ENCODER else self.base_encoder
                assert enc is not None
                emb[head.encoder] = enc.embed(texts)
            out[f] = head.probs(emb[head.encoder])
        return state.version, state.heads, out

    def classify(self, texts: Sequence[str]) -> list[dict[str, tuple[Label, list[Label]]]]:
        """Per text and field: the top label and the runners-up, each with its probability."""
        _, heads, probs = self.probabilities(texts)
        out: list[dict[str, tuple[Label, list[Label]]]] = [{} for _ in texts]
        for f, p in probs.items():
            labels_of = heads[f].labels
            top = torch.topk(p, min(self.top_k, len(labels_of)), dim=-1)
            for i in range(len(texts)):
                labels = [
                    Label(labels_of[j], round(float(v), 4))
                    for v, j in zip(top.values[i], top.indices[i], strict=True)
                ]
                out[i][f] = (labels[0], labels[1:])
        return out

    def embed(self, texts: Sequence[str]) -> torch.Tensor:
        return self.base_encoder.embed(texts)
