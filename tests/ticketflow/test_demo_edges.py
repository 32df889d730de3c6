"""The demo's failure modes: a clear message and exit code, never a hang or a traceback."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from rich.console import Console

from shared.errors import DemoError
from ticketflow.demo import _follow, _only_demo, load_samples, results_table
from ticketflow.processes import spawn


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"body": "ok"}\n{"body": \n', "samples.jsonl:2: invalid JSON"),
        ('{"subject": "no body"}\n', 'samples.jsonl:1: each line must be an object with a "body"'),
        ('["body"]\n', "samples.jsonl:1: each line must be"),
        ("\n\n", "samples.jsonl: no tickets"),
    ],
)
def test_bad_samples_are_refused_by_line(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "samples.jsonl"
    path.write_text(content)
    with pytest.raises(DemoError, match=message.replace("(", r"\(")):
        load_samples(path)


def test_bundled_samples_load() -> None:
    assert len(load_samples()) == 20


def test_cli_reports_bad_samples_before_loading_any_model(tmp_path: Path) -> None:
    path = tmp_path / "samples.jsonl"
    path.write_text('{"body": "fine"}\nnot json\n')
    r = subprocess.run(
        [sys.executable, "-m", "ticketflow.cli", "demo", "--samples", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        env={"TICKETFLOW_DATA_DIR": str(tmp_path / "data"), "PATH": "/usr/bin:/bin"},
    )
    assert r.returncode == 1
    assert "samples.jsonl:2: invalid JSON" in r.stderr and "Traceback" not in r.stderr


def test_a_second_demo_on_the_same_data_dir_is_refused(tmp_path: Path) -> None:
    refused = pytest.raises(DemoError, match="another `ticketflow demo`")
    with _only_demo(tmp_path), refused, _only_demo(tmp_path):
        pass
    with _only_demo(tmp_path):  # released with the first demo
        pass


def test_table_prints_markup_in_customer_and_model_text_literally() -> None:
    ticket = {
        "id": 1,
        "subject": "Refund [/b] [link=https://evil.example]click[/link]",
        "status": "triaged",
        "triage": {
            "category": "billing",
            "category_confidence": 0.9,
            "needs_human_triage": False,
            "priority": "low",
            "priority_confidence": 0.5,
            "sentiment": "neutral",
            "sentiment_confidence": 0.5,
            "language": "en",
            "language_confidence": 1.0,
            "draft_reply": "Dear [bold]customer[/bold], see [1].",
            "citations": [],
        },
    }
    console = Console(record=True, width=300)
    console.print(results_table([ticket]))
    out = console.export_text()
    assert "[/b]" in out and "[link=https://evil." in out and "[bold]customer" in out


def test_waiting_ends_with_the_log_when_the_worker_dies(tmp_path: Path) -> None:
    worker = spawn("worker", [sys.executable, "-c", "print('ready.'); print('boom')"], {}, tmp_path)
    worker.proc.wait(30)

    def queued(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=json.dumps({"id": 1, "status": "queued"}))

    died = pytest.raises(DemoError, match=r"the worker exited with 0/1 tickets done(.|\n)*boom")
    with httpx.Client(transport=httpx.MockTransport(queued), base_url="http://demo") as http, died:
        _follow(http, [1], Console(quiet=True), worker)
