"""Draft quality before/after the draft aids, on the shipped evaluation set, in one run.

    python bench/draft_quality.py [--max-new-tokens 128] [--json out.json]

Runs ``ticketflow eval-drafts``' file evaluation (training/draft_eval.py) on
``ticketflow/samples/eval`` with the configured models (default: the bundled SmolLM2-135M and
all-MiniLM-L6-v2): every ticket is drafted plainly and with the aids (approved replies and
templates as examples and suggestions, fallback language, guardrails), and both are scored
against hand-written reference replies. The result file keeps the whole report, drafts
included, under ``raw``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from results_io import write

from shared.config import load_settings
from training.draft_eval import load_eval_file, run_file_eval
from training.draft_eval_cli import SAMPLES, print_report
from worker.drafting.draft_aids import build_draft_aids
from worker.engine.factory import build_engine

GROUP_COLUMNS = ["mode", "group", "n", "violations", "unflagged contacts",
                 "unflagged placeholders", "language match", "cites", "cosine", "ROUGE-L",
                 "words"]  # fmt: skip
KEYS = ["n", "violation_rate", "unflagged_contacts", "unflagged_placeholders",
        "language_match", "citation_rate", "cosine", "rouge_l", "words"]  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--max-new-tokens", type=int, default=128)
    ap.add_argument("--json", type=Path, help="write a bench/results file here")
    args = ap.parse_args()
    settings = load_settings(max_new_tokens=args.max_new_tokens)
    t0 = time.perf_counter()
    engine = build_engine(settings)
    tickets = load_eval_file(SAMPLES / "eval" / "tickets.jsonl")
    report = run_file_eval(
        engine,
        lambda db: build_draft_aids(settings, db, engine, engine),
        tickets,
        kb=[SAMPLES / "kb"],
        templates=[SAMPLES / "templates"],
        approved=SAMPLES / "eval" / "approved.jsonl",
        batch_size=settings.batch_size,
        progress=lambda line: print(line, file=sys.stderr),
    )
    elapsed = time.perf_counter() - t0
    print_report(report)
    print(f"{elapsed:.0f}s in all (model load included)")
    if not args.json:
        return
    rows = []
    for mode, groups in report["modes"].items():
        for group, figures in groups.items():
            if group == "all" or group.startswith("language="):
                rows.append([mode, group, *(figures.get(k) for k in KEYS)])
    sim = report["similar_reply"]
    notes = (
        f"{report['tickets']} tickets (20 en, 3 es, 3 fr, 3 de, 2 it, 1 zh) with reference "
        "replies written for the project, drafted with max_new_tokens="
        f"{args.max_new_tokens}. 'plain': the pipeline without aids; 'aided': approved replies "
        "and templates as examples and suggestions, the fallback language "
        "(TICKETFLOW_DRAFT_LANGUAGES=en) and the guardrails. Violations: drafts whose stored "
        "text fails a guardrail (promises excluded); unflagged: an invented contact or a "
        "placeholder with no warning. Language match counts a flagged English fallback as a "
        "match. Tickets with a similar approved reply or template "
        f"(n={sim.get('n', 0)}): ROUGE-L plain draft {sim['rouge_l']['plain_draft']}, aided "
        f"draft {sim['rouge_l']['aided_draft']}, suggestion {sim['rouge_l']['suggestion']} "
        f"({sim['rouge_l']['suggestion_vs_plain']}x plain); encoder cosine plain "
        f"{sim['cosine']['plain_draft']}, aided draft {sim['cosine']['aided_draft']}, "
        f"suggestion {sim['cosine']['suggestion']} ({sim['cosine']['suggestion_vs_plain']}x). "
        "The references and the approved replies were written by the same author from the same "
        f"help articles, so their overlap is an upper bound. {elapsed:.0f}s on CPU."
    )
    write(
        args.json,
        benchmark="draft-quality",
        title="Draft quality: plain model against approved-reply suggestions and guardrails",
        columns=GROUP_COLUMNS,
        rows=rows,
        notes=notes,
        raw=report,
    )


if __name__ == "__main__":
    main()
