"""Banking77 before/after personal-data redaction: classification and retrieval must not suffer.

    python bench/redaction_banking77.py ../shared/data/banking77/train.csv [--json out.json]

The worker masks personal data (``privacy.Redactor``, every type on) before the classifier and
the knowledge-base retrieval read a ticket. This measures, in one run, on the stratified 20%
validation part (seed 0) of the file:

- how many texts redaction changes at all, and with which types (false positives show here:
  Banking77 holds no real personal data);
- classification: frozen all-MiniLM-L6-v2 embeddings + logistic regression (C=10) trained on
  the raw training part, scored on the raw and on the redacted validation texts;
- retrieval: one "help article" per intent (its name and three training examples), each
  validation text a query; hit@1 and hit@3 of its intent's article by cosine similarity, the
  worker's retrieval, raw against redacted;
- the same two measures on validation texts with planted personal data appended (a card number,
  an IBAN, a phone number, an e-mail): what masking buys when a ticket does carry some.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import torch
from results_io import write
from sklearn.linear_model import LogisticRegression

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from privacy import Redactor, Vault
from shared.config import BUNDLED_ENCODER
from training.data import load_examples, stratified_split
from worker.engine.classifier.encoder import SentenceEncoder

CPU = torch.device("cpu")
PLANT = (
    " My card is 4111 1111 1111 1111, IBAN DE89 3704 0044 0532 0130 00,"
    " call me on +44 20 7946 0958 or write to jane.roe{n}@example.com."
)


def retrieval(query: np.ndarray, articles: np.ndarray, truth: np.ndarray) -> tuple[float, float]:
    top = np.argsort(-(query @ articles.T), axis=1)[:, :3]
    return float((top[:, 0] == truth).mean()), float((top == truth[:, None]).any(1).mean())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("csv", type=Path)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", type=Path, help="also write the result here (bench/results_io)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    examples = load_examples(args.csv, fields={"category": "category"})
    train, valid = stratified_split(examples, 0.2, seed=0)
    redactor = Redactor()
    t0 = time.perf_counter()
    redacted = [redactor.redact(e.text, Vault()) for e in valid]
    redact_ms = (time.perf_counter() - t0) * 1000 / len(valid)
    changed = [(e.text, r) for e, r in zip(valid, redacted, strict=True) if e.text != r]
    kinds: Counter[str] = Counter()
    for e in examples:
        vault = Vault()
        redactor.redact(e.text, vault)
        kinds.update(vault.counts())
    planted = [e.text + PLANT.format(n=i) for i, e in enumerate(valid)]
    planted_redacted = [redactor.redact(t, Vault()) for t in planted]

    encoder = SentenceEncoder(BUNDLED_ENCODER, CPU)
    labels = sorted({e.labels["category"] for e in examples})
    y_train = [e.labels["category"] for e in train]
    truth = np.array([labels.index(e.labels["category"]) for e in valid])
    model = LogisticRegression(C=10, max_iter=3000)
    model.fit(encoder.embed([e.text for e in train]).numpy(), y_train)
    by_label: dict[str, list[str]] = defaultdict(list)
    for e in train:
        by_label[e.labels["category"]].append(e.text)
    articles = encoder.embed(
        [f"{lab.replace('_', ' ')}\n" + "\n".join(by_label[lab][:3]) for lab in labels]
    ).numpy()
    conditions = {
        "raw": [e.text for e in valid],
        "redacted": redacted,
        "planted PII, raw": planted,
        "planted PII, redacted": planted_redacted,
    }
    rows, raw = [], {}
    for name, texts in conditions.items():
        emb = encoder.embed(texts).numpy()
        acc = float((model.predict(emb) == np.array([labels[i] for i in truth])).mean())
        hit1, hit3 = retrieval(emb, articles, truth)
        raw[name] = {"accuracy": acc, "hit@1": hit1, "hit@3": hit3}
        rows.append([name, f"{100 * acc:.2f}%", f"{100 * hit1:.2f}%", f"{100 * hit3:.2f}%"])
        print(f"{name:24} accuracy {acc:.4f}  retrieval hit@1 {hit1:.4f}  hit@3 {hit3:.4f}")
    print(f"redaction changed {len(changed)} of {len(valid)} validation texts; types over the")
    print(f"whole file: {dict(kinds)}; {redact_ms:.2f} ms per text")
    for before, after in changed[:10]:
        print(f"  {before!r}\n  -> {after!r}")
    if args.json:
        write(
            args.json,
            benchmark="redaction-banking77",
            title="Banking77 before/after personal-data redaction (validation part, MiniLM)",
            columns=["validation texts", "classification accuracy", "retrieval hit@1", "hit@3"],
            rows=rows,
            notes=(
                f"Redaction changed {len(changed)} of {len(valid)} validation texts "
                f"(types found in all {len(examples)} rows: {dict(kinds) or 'none'}); "
                f"{redact_ms:.2f} ms per text. Classifier: frozen all-MiniLM-L6-v2 + logistic "
                "regression trained on the raw training part. Retrieval: one article per intent "
                "(name and three training examples), cosine top-k. Planted PII: a card, an IBAN, "
                "a phone number and an e-mail appended to each validation text."
            ),
            raw={**raw, "changed": changed[:50], "types": dict(kinds)},
        )


if __name__ == "__main__":
    main()
