"""The benchmark's prompts: demo tickets classified and given their help passages, as the worker
builds them (``worker.pipeline.triage.run_batch``), written once so every engine drafts the same.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from knowledge.importer import load_docs
from shared.config import BUNDLED_ENCODER
from shared.taxonomy import load_taxonomy
from ticketflow.demo import load_samples
from worker.drafting.prompting import (
    Reference,
    TicketView,
    build_chat,
    classification_text,
    reply_opening,
    with_opening,
)
from worker.engine.base import Classification
from worker.engine.classifier.classifier import TicketClassifier
from worker.engine.language import LanguageDetector

KB = Path(__file__).resolve().parent.parent / "ticketflow" / "samples" / "kb"
TOP_K, MIN_SIMILARITY = 3, 0.4  # the worker's defaults (TICKETFLOW_KB_*)


def build_prompts(n: int, out: Path, data_dir: Path) -> dict[str, Any]:
    samples = load_samples()
    tickets = [samples[i % len(samples)] for i in range(n)]
    views = [
        TicketView(subject=s["subject"], body=s["body"], customer_name=s.get("customer_name"))
        for s in tickets
    ]
    texts = [classification_text(v) for v in views]
    clf = TicketClassifier(
        BUNDLED_ENCODER, load_taxonomy(), data_dir / "heads", torch.device("cpu")
    )
    lang = LanguageDetector(["en", "es", "fr", "de", "it", "pt", "nl"])
    passages = [(d.title, c) for d in load_docs([KB]) for c in d.chunks]
    p_emb = clf.embed([f"{t}\n{c}" for t, c in passages])
    t_emb = clf.embed(texts)
    chats = []
    for view, text, fields, emb in zip(views, texts, clf.classify(texts), t_emb, strict=True):
        labels = Classification(
            category=fields["category"][0],
            priority=fields["priority"][0],
            sentiment=fields["sentiment"][0],
            language=lang.detect(text),
        )
        scores = (p_emb @ emb).tolist()
        best = sorted(range(len(passages)), key=lambda i: -scores[i])[:TOP_K]
        refs = [Reference(*passages[i]) for i in best if scores[i] >= MIN_SIMILARITY]
        chat = build_chat(view, labels, refs)
        chats.append(with_opening(chat, reply_opening(labels.language.name, view.customer_name)))
    out.write_text(json.dumps(chats, ensure_ascii=False))
    chars = [sum(len(m["content"]) for m in c) for c in chats]
    # ~4 characters per SmolLM2 token in English; the children report the exact counts.
    return {"n": n, "mean_tokens": sum(chars) / len(chars) / 4, "mean_chars": sum(chars) / n}
