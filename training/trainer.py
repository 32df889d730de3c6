"""One training run, end to end: split, fine-tune, calibrate, save a version, publish it.

The CLI and the benchmark both call ``train_version``; it knows nothing of Typer or files.
A calibration share of each label is held out before training so the temperature is fitted
on examples the model has not seen (fitting it on training data would learn over-confidence).
"""

from __future__ import annotations

import time
from collections.abc import Collection, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import torch

from shared.errors import ConfigError, InputError
from shared.taxonomy import LABEL_FIELDS
from training.calibration import fit_inverse_temperature, nll
from training.data import Example, labels_of, stratified_split
from training.finetune import FinetuneConfig, Progress, finetune
from training.relabel import relabel_dropped_fields
from worker.engine.classifier.artifacts import (
    check_writable,
    latest_version,
    load_artifact,
    new_version,
    save_artifact,
)
from worker.engine.classifier.encoder import SentenceEncoder
from worker.engine.classifier.heads import BASE_ENCODER, Head

# Below this many examples the final model is refitted on all of them (see train_version).
REFIT_BELOW = 3000
# One temperature per field is all calibration fits: a few hundred held-out examples pin it
# down, so large datasets hold out no more than this and train on the rest.
CALIB_MAX = 500


@dataclass
class FieldSummary:
    labels: int
    train_examples: int
    calib_examples: int
    scale: float  # fitted inverse temperature (1.0 when nothing to fit on)
    calib_accuracy: float | None
    calib_nll_before: float | None
    calib_nll_after: float | None


@dataclass
class TrainReport:
    version: str
    path: Path
    published: bool
    seconds: float
    fields: dict[str, FieldSummary] = field(default_factory=dict)
    carried_over: list[str] = field(default_factory=list)
    # Fine-tuned fields of the previous version retrained on its own confident predictions.
    relabelled: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, int] = field(default_factory=dict)  # input rows not used, by reason


def _usable_labels(
    examples: Sequence[Example], fields: Sequence[str], say: Progress
) -> dict[str, list[str]]:
    """Label names of each field that has at least two; a one-label field is skipped with a
    warning (reviews often confirm one priority only) rather than failing the whole run."""
    labels = {f: labels_of(examples, f) for f in fields}
    usable = {f: names for f, names in labels.items() if len(names) >= 2}
    single = {f: names[0] for f, names in labels.items() if len(names) == 1}
    for f, name in single.items():
        say(
            f"warning: not training {f!r}: every example has the label {name!r}, "
            "and a classifier needs examples of at least two"
        )
    if not usable:
        if single:
            raise InputError("no field has examples of at least two labels to train on")
        raise InputError("no labelled examples to train on")
    return usable


def _only(examples: Sequence[Example], fields: Collection[str]) -> list[Example]:
    """The examples' labels for ``fields``; examples left with none are not trained on."""
    out = []
    for e in examples:
        labels = {f: label for f, label in e.labels.items() if f in fields}
        if labels:
            out.append(e if len(labels) == len(e.labels) else Example(e.text, labels))
    return out


def _check_max_length(encoder: SentenceEncoder, max_length: int) -> None:
    limit = encoder.max_positions
    if limit is not None and max_length > limit:
        raise ConfigError(
            f"max length {max_length} is more than encoder {encoder.spec} takes ({limit} tokens); "
            f"use --max-length {limit} or less"
        )


# Per field: calibration examples, fitted scale, accuracy, NLL before and after.
CalibStats = tuple[int, float, float | None, float | None, float | None]


def _calibrate(
    encoder: SentenceEncoder, heads: dict[str, Head], calib: Sequence[Example]
) -> dict[str, CalibStats]:
    """Fit each head's temperature on the held-out examples; returns per-field statistics."""
    emb = encoder.embed([e.text for e in calib]) if calib else None
    stats: dict[str, CalibStats] = {}
    for f, head in heads.items():
        rows = [i for i, e in enumerate(calib) if e.labels.get(f) in head.labels]
        if emb is None or not rows:
            stats[f] = (0, 1.0, None, None, None)
            continue
        logits = head.logits(emb[rows])
        target = torch.tensor([head.labels.index(calib[i].labels[f]) for i in rows])
        inverse_t = fit_inverse_temperature(logits, target)
        head.rescale(inverse_t)
        acc = float((logits.argmax(-1) == target).float().mean())
        before, after = nll(logits, target), nll(logits, target, inverse_t)
        stats[f] = (len(rows), inverse_t, acc, before, after)
    return stats


def _carry_over(heads_dir: Path, trained: dict[str, Head], encoder_spec: str) -> dict[str, Head]:
    """Heads of the current version for fields not retrained now, where still valid.

    Only heads on the base encoder survive: a head read from an older fine-tuned encoder
    means nothing on the new one, so such fields fall back to zero-shot.
    """
    current = latest_version(heads_dir)
    if current is None:
        return {}
    heads, meta, _ = load_artifact(heads_dir, current)
    if meta.get("base_encoder") != encoder_spec:
        return {}
    return {
        f: h
        for f, h in heads.items()
        if f not in trained and h.encoder == BASE_ENCODER and h.kind != "zero-shot"
    }


def train_version(
    examples: Sequence[Example],
    encoder_spec: str,
    heads_dir: Path,
    device: torch.device,
    cfg: FinetuneConfig | None = None,
    fields: Sequence[str] = LABEL_FIELDS,
    calib_fraction: float = 0.1,
    publish: bool = True,
    source: str = "",
    refit_below: int = REFIT_BELOW,
    progress: Progress | None = None,
    skipped: Mapping[str, int] | None = None,
) -> TrainReport:
    """Train heads for ``fields`` (those with labels), save them as a new version, publish.

    With fewer than ``refit_below`` examples, holding a tenth out costs real accuracy, so the
    model is trained a second time on everything with the same recipe and keeps the scales
    fitted on the first run's held-out part (the recipe, not the weights, was calibrated).
    """
    cfg = cfg or FinetuneConfig()
    say = progress or (lambda _msg: None)
    t0 = time.perf_counter()
    check_writable(heads_dir)
    labels = _usable_labels(examples, fields, say)
    examples = _only(examples, labels)
    # Loaded first: a wrong encoder or max length shows before anything long runs.
    encoder = SentenceEncoder(encoder_spec, device, max_length=cfg.max_length)
    _check_max_length(encoder, cfg.max_length)
    unlabelled = [f for f in fields if f not in labels]
    kept = relabel_dropped_fields(examples, heads_dir, unlabelled, device)
    if kept.counts:
        say(
            f"relabelled with {kept.version} to keep its fine-tuned "
            + ", ".join(f"{f} ({n} examples)" for f, n in kept.counts.items())
        )
        examples = kept.examples
        labels = _usable_labels(examples, fields, say)
    fraction = min(calib_fraction, CALIB_MAX / len(examples))
    train, calib = stratified_split(examples, fraction, cfg.seed)
    say(
        f"{len(train)} training and {len(calib)} calibration examples; fields "
        + ", ".join(f"{f} ({len(n)} labels)" for f, n in labels.items())
    )
    heads = finetune(encoder, train, labels, cfg, say)
    stats = _calibrate(encoder, heads, calib)
    refit = bool(calib) and len(examples) < refit_below
    if refit:
        say(f"refitting on all {len(examples)} examples with the fitted temperatures")
        inverse_ts = {f: s[1] for f, s in stats.items()}
        encoder = SentenceEncoder(encoder_spec, device, max_length=cfg.max_length)
        heads = finetune(encoder, examples, labels, cfg, say)
        for f, h in heads.items():
            h.rescale(inverse_ts[f])
    carried = _carry_over(heads_dir, heads, encoder_spec)
    version = new_version()
    final = examples if refit else train
    summaries = {
        f: FieldSummary(len(labels[f]), sum(f in e.labels for e in final), *stats[f]) for f in heads
    }
    meta: dict[str, Any] = {
        "version": version,
        "created_at": datetime.now(UTC).isoformat(),
        "base_encoder": encoder_spec,
        "max_length": cfg.max_length,
        "source": source,
        "config": asdict(cfg),
        "labels": {f: h.labels for f, h in {**carried, **heads}.items()},
        "fields": {f: asdict(s) for f, s in summaries.items()},
        "carried_over": sorted(carried),
        "relabelled": {"version": kept.version, "fields": kept.counts} if kept.counts else None,
        "refitted_on_all": refit,
        "skipped_rows": dict(skipped or {}),
        "train_seconds": round(time.perf_counter() - t0, 1),
        "summary": f"{', '.join(sorted(heads))} trained on {len(examples)} examples"
        + (f" from {source}" if source else ""),
    }
    write_encoder = None if cfg.freeze_encoder else encoder.save
    path = save_artifact(
        heads_dir,
        version,
        {**carried, **heads},
        meta,
        publish_now=publish,
        write_encoder=write_encoder,
    )
    return TrainReport(
        version,
        path,
        publish,
        round(time.perf_counter() - t0, 1),
        summaries,
        sorted(carried),
        kept.counts,
        dict(skipped or {}),
    )
