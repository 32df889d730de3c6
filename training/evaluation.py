"""Scoring a classifier version on labelled examples (``ticketflow eval`` and the benchmark)."""

from __future__ import annotations

from collections.abc import Sequence

from training.data import Example
from training.metrics import FieldReport, evaluate
from worker.engine.classifier.classifier import ZERO_SHOT_VERSION, TicketClassifier


def evaluate_examples(
    classifier: TicketClassifier,
    examples: Sequence[Example],
    batch_size: int = 64,
    top_confused: int = 10,
) -> dict[str, FieldReport]:
    """Per labelled field: metrics of the classifier's top label and its confidence.

    Goes through ``TicketClassifier.classify``, the worker's own path, so what is measured
    is what the worker stores.
    """
    texts = [e.text for e in examples]
    scored = []
    for i in range(0, len(texts), batch_size):
        scored.extend(classifier.classify(texts[i : i + batch_size]))
    fields = sorted({f for e in examples for f in e.labels} & set(classifier.heads))
    reports = {}
    for f in fields:
        rows = [
            (e.labels[f], s[f][0]) for e, s in zip(examples, scored, strict=True) if f in e.labels
        ]
        reports[f] = evaluate(
            [t for t, _ in rows],
            [p.name for _, p in rows],
            [p.confidence for _, p in rows],
            top_confused=top_confused,
        )
    return reports


def eval_warnings(classifier: TicketClassifier, examples: Sequence[Example]) -> list[str]:
    """What makes the scores mean less than they seem: no trained version, a field scored by
    its zero-shot head, labels the version never learnt (their examples all count as errors)."""
    out = []
    if classifier.version == ZERO_SHOT_VERSION:
        out.append(
            "no trained classifier version: scoring the zero-shot heads (train one with "
            "`ticketflow train`)"
        )
    for f in sorted({f for e in examples for f in e.labels} & set(classifier.heads)):
        head = classifier.heads[f]
        if head.kind == "zero-shot" and classifier.version != ZERO_SHOT_VERSION:
            out.append(f"{f}: not trained in version {classifier.version}; scored zero-shot")
        unseen = sorted({e.labels[f] for e in examples if f in e.labels} - set(head.labels))
        if unseen:
            n = sum(e.labels.get(f) in unseen for e in examples)
            shown = ", ".join(unseen[:10]) + (", ..." if len(unseen) > 10 else "")
            out.append(
                f"{f}: {len(unseen)} label(s) in the file the model has never seen, on {n} "
                f"example(s) that can only count as errors: {shown}"
            )
    return out
