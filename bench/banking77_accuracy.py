"""Banking77 accuracy: ticketflow's trained classifier against two baselines, in one run.

    python bench/banking77_accuracy.py ../shared/data/banking77/train.csv [--json out.json]

A stratified 20% of the file (seed 0) is held out for validation and used for nothing else;
``--dev`` instead scores on a stratified 20% of the training portion (seed 1): that is where
recipes such as the README's ``--encoder``/``--epochs``/``--lr`` ones are chosen. From the
remaining 80% each setting trains on: all of it ("full"), or 10 / 30 examples of each
intent, drawn with each seed of ``--draws`` (default 0 only). Which ten examples are drawn moves
a 10-shot score by about a point, so with several draws the summary gives mean and spread.
Per setting and method: accuracy, macro-F1, expected calibration error (15 bins) on the
validation part, and training time. The methods:

- ours: ``train_version`` with its default configuration (fine-tuned MiniLM, calibrated),
  scored through ``TicketClassifier.classify``, the worker's own code path; ``--encoder``,
  ``--epochs`` and ``--lr`` fine-tune another encoder (e.g. a local all-mpnet-base-v2) the
  same way;
- tfidf+lr: word 1-2-gram TF-IDF and logistic regression (C=10);
- minilm+lr: frozen all-MiniLM-L6-v2 embeddings and logistic regression (C=10).

Baseline settings are fixed a priori, not tuned on the validation part. Timings are wall
clock on this machine's CPU threads (``--threads``), noisy when other jobs share it.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from results_io import write
from rich.console import Console
from rich.table import Table
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from shared.config import BUNDLED_ENCODER
from shared.taxonomy import load_taxonomy
from training.data import Example, load_examples, sample_per_label, stratified_split
from training.evaluation import evaluate_examples
from training.finetune import FinetuneConfig
from training.metrics import evaluate
from training.trainer import REFIT_BELOW, train_version
from worker.engine.classifier.classifier import TicketClassifier
from worker.engine.classifier.encoder import SentenceEncoder

CPU = torch.device("cpu")
SETTINGS = {"10-shot": 10, "30-shot": 30, "full": None}


def _score(truth: list[str], model: LogisticRegression, x: object) -> dict[str, float]:
    proba = model.predict_proba(x)
    pred = model.classes_[proba.argmax(1)]
    r = evaluate(truth, list(pred), list(proba.max(1)))
    return {"accuracy": r.accuracy, "macro_f1": r.macro_f1, "ece": r.ece}


def tfidf_lr(train: list[Example], valid: list[Example]) -> dict[str, float]:
    t0 = time.perf_counter()
    vec = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)
    x = vec.fit_transform([e.text for e in train])
    model = LogisticRegression(C=10, max_iter=3000).fit(x, [e.labels["category"] for e in train])
    seconds = time.perf_counter() - t0
    x_valid = vec.transform([e.text for e in valid])
    return {**_score([e.labels["category"] for e in valid], model, x_valid), "train_s": seconds}


def minilm_lr(
    train: list[Example], valid_emb: np.ndarray, valid: list[Example], encoder: SentenceEncoder
) -> dict[str, float]:
    t0 = time.perf_counter()
    x = encoder.embed([e.text for e in train]).numpy()
    model = LogisticRegression(C=10, max_iter=3000).fit(x, [e.labels["category"] for e in train])
    seconds = time.perf_counter() - t0
    return {**_score([e.labels["category"] for e in valid], model, valid_emb), "train_s": seconds}


def ours(
    train: list[Example],
    valid: list[Example],
    cfg: FinetuneConfig,
    console: Console,
    encoder: str = BUNDLED_ENCODER,
    refit: bool = True,
) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        train_version(
            train,
            encoder,
            Path(tmp),
            CPU,
            cfg,
            fields=("category",),
            refit_below=REFIT_BELOW if refit else 0,
            progress=lambda m: console.log(m),
        )
        seconds = time.perf_counter() - t0
        clf = TicketClassifier(encoder, load_taxonomy(), Path(tmp), CPU)
        r = evaluate_examples(clf, valid)["category"]
    return {"accuracy": r.accuracy, "macro_f1": r.macro_f1, "ece": r.ece, "train_s": seconds}


def table(results: dict[str, dict[str, dict[str, float]]], threads: int) -> Table:
    t = Table(title=f"Banking77, stratified 20% held out, {threads} CPU threads")
    for col in ("setting", "method", "n train", "accuracy", "macro-F1", "ECE", "train s"):
        t.add_column(col, justify="left" if col in ("setting", "method") else "right")
    for setting, methods in results.items():
        for name, r in methods.items():
            t.add_row(
                setting,
                name,
                str(int(r["n_train"])),
                f"{r['accuracy']:.4f}",
                f"{r['macro_f1']:.4f}",
                f"{r['ece']:.4f}",
                f"{r['train_s']:.0f}",
            )
        o = methods["ours"]
        for base in ("tfidf+lr", "minilm+lr"):
            b = methods[base]
            err = (1 - o["accuracy"]) / max(1 - b["accuracy"], 1e-9)
            t.add_row(
                setting,
                f"ours vs {base}",
                "",
                f"{100 * (o['accuracy'] - b['accuracy']):+.2f} pt (err x{err:.2f})",
                f"{100 * (o['macro_f1'] - b['macro_f1']):+.2f} pt",
                f"{o['ece'] - b['ece']:+.4f}",
                f"x{o['train_s'] / b['train_s']:.1f}",
            )
        t.add_section()
    return t


def spread_rows(results: dict[str, dict[str, dict[str, float]]]) -> list[list[str]]:
    """Per few-shot setting and method: draws, and accuracy as mean ± sd (min-max)."""
    rows = []
    for setting in SETTINGS:
        runs = [m for name, m in results.items() if name.startswith(f"{setting} draw ")]
        for method in runs[0] if runs else []:
            acc = np.array([100 * r[method]["accuracy"] for r in runs])
            rows.append(
                [
                    setting,
                    method,
                    str(len(acc)),
                    f"{acc.mean():.2f} ± {acc.std(ddof=1):.2f} ({acc.min():.2f}-{acc.max():.2f})",
                ]
            )
    return rows


def spread(results: dict[str, dict[str, dict[str, float]]]) -> Table:
    """Mean and standard deviation of accuracy over the draws of each few-shot setting."""
    t = Table(title="Few-shot accuracy over draws: mean ± sd (min-max)")
    for col in ("setting", "method", "draws", "accuracy"):
        t.add_column(col, justify="left" if col in ("setting", "method") else "right")
    for row in spread_rows(results):
        t.add_row(*row)
    return t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument(
        "csv",
        type=Path,
        nargs="?",
        default=Path(__file__).resolve().parents[2] / "shared/data/banking77/train.csv",
    )
    ap.add_argument("--settings", default=",".join(SETTINGS), help="full,10-shot,30-shot")
    ap.add_argument("--draws", default="0", help="seeds for drawing few-shot examples: 0,1,2")
    ap.add_argument(
        "--encoder", default=BUNDLED_ENCODER, help="ours: encoder id or path to fine-tune"
    )
    ap.add_argument("--epochs", type=int, help="ours: epochs (default: the training default)")
    ap.add_argument("--lr", type=float, help="ours: encoder learning rate (default: 8e-5)")
    ap.add_argument(
        "--dev",
        action="store_true",
        help="tune: score on 20%% of the training portion, never on the validation part",
    )
    ap.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="ours: any other FinetuneConfig field as JSON, e.g. --set batch_size=16 (repeatable)",
    )
    ap.add_argument(
        "--no-refit",
        action="store_true",
        help="ours: skip the second fit on all examples small sets get (half the time; tuning)",
    )
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", type=Path, help="also write the result here (bench/results_io)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    console = Console()
    examples = load_examples(args.csv, fields={"category": "category"})
    pool, valid = stratified_split(examples, 0.2, seed=0)
    if args.dev:
        pool, valid = stratified_split(pool, 0.2, seed=1)
    part = "dev (from the training portion)" if args.dev else "validation"
    console.log(f"{len(examples)} rows: {len(pool)} to train from, {len(valid)} {part}")
    encoder = SentenceEncoder(BUNDLED_ENCODER, CPU)
    valid_emb = encoder.embed([e.text for e in valid]).numpy()
    results: dict[str, dict[str, dict[str, float]]] = {}
    draws = [int(d) for d in args.draws.split(",")]
    cfg = FinetuneConfig(epochs=args.epochs)
    if args.lr is not None:
        cfg = replace(cfg, lr_encoder=args.lr)
    for item in args.set:
        key, _, value = item.partition("=")
        cfg = replace(cfg, **{key: json.loads(value)})
        console.log(f"ours: {key} = {getattr(cfg, key)}")
    if args.encoder != BUNDLED_ENCODER:
        console.log(f"ours: fine-tuning {args.encoder}, epochs {args.epochs or 'default'}")
    if args.encoder != BUNDLED_ENCODER or args.lr is not None:
        console.log(f"ours: encoder learning rate {cfg.lr_encoder}")
    for setting in args.settings.split(","):
        shots = SETTINGS[setting]
        for draw in [0] if shots is None else draws:
            name = setting if shots is None or len(draws) == 1 else f"{setting} draw {draw}"
            train = pool if shots is None else sample_per_label(pool, shots, seed=draw)
            console.log(f"{name}: {len(train)} training examples")
            results[name] = {
                "ours": ours(train, valid, cfg, console, args.encoder, not args.no_refit),
                "tfidf+lr": tfidf_lr(train, valid),
                "minilm+lr": minilm_lr(train, valid_emb, valid, encoder),
            }
            for r in results[name].values():
                r["n_train"] = len(train)
            console.log(results[name])
    console.print(table(results, args.threads))
    if len(draws) > 1:
        console.print(spread(results))
    if args.json:
        rows = [
            [setting, name, int(r["n_train"]), f"{100 * r['accuracy']:.2f}%",
             f"{100 * r['macro_f1']:.2f}", f"{r['ece']:.3f}", f"{r['train_s']:.0f} s"]
            for setting, methods in results.items()
            for name, r in methods.items()
        ]  # fmt: skip
        # Over several draws, one summary row per setting and method: mean ± sd (min-max).
        rows += [
            [f"{setting}, {n} draws", method, "-", acc, "-", "-", "-"]
            for setting, method, n, acc in spread_rows(results)
        ]
        write(
            args.json,
            benchmark="banking77-accuracy",
            title=f"Banking77 intent accuracy ({part} part), ticketflow against two baselines",
            columns=["setting", "method", "n train", "accuracy", "macro-F1", "ECE", "train"],
            rows=rows,
            notes=f"{args.threads} CPU threads; encoder {args.encoder}.",
            raw=results,
        )


if __name__ == "__main__":
    main()
