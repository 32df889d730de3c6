"""`ticketflow demo`, the README's run command, as a user runs it."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from ticketflow.processes import free_port

pytestmark = pytest.mark.integration


def _demo(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ticketflow.cli", "demo"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=900,
        env={**os.environ, "TICKETFLOW_DATA_DIR": str(tmp_path / "data"), **env},
    )


def test_demo_starts_embedded_redis_when_none_answers(tmp_path: Path) -> None:
    dead = f"redis://127.0.0.1:{free_port()}/0"
    r = _demo(tmp_path, TICKETFLOW_REDIS_URL=dead, TICKETFLOW_ENGINE="fake")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "started embedded Redis" in r.stdout
    assert "20/20 tickets triaged" in r.stdout and "/review" in r.stdout
    # The loop's last step: the demo approves one draft itself, says so, and the reply
    # arrives at its local SMTP sink threaded under the customer's mail.
    approved = re.search(r"The demo now approves ticket #(\d+)'s draft itself", r.stdout)
    assert approved, r.stdout
    n = approved.group(1)
    assert f"Subject: Re: Charged twice for my subscription [TF-{n}]" in r.stdout
    assert "In-Reply-To: <" in r.stdout and "@customer.example>" in r.stdout
    assert f"Message-ID: <tf.{n}.1." in r.stdout and "delivery sent after 1 attempt" in r.stdout
    assert "Stopped worker, API, delivery worker and embedded Redis." in r.stdout


@pytest.mark.slow
def test_demo_with_the_real_models(tmp_path: Path) -> None:
    r = _demo(tmp_path, TICKETFLOW_MAX_NEW_TOKENS="48")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "20/20 tickets triaged" in r.stdout
    # The table shows real labels from the taxonomy and drafted text.
    assert "shipping_delivery" in r.stdout and "account_access" in r.stdout
    # Issue 20's second act: the guardrails' findings, then the demo approves samples (and says
    # so) and similar new tickets are offered a reply naming the ticket it was approved for.
    assert "Guardrail warnings (shown to the reviewer" in r.stdout, r.stdout
    approved = re.search(r"Approved the drafts of tickets (#\d+(?:, #\d+)*) with a", r.stdout)
    assert approved, r.stdout
    sources = re.findall(r"Based on the reply approved for (#\d+)", r.stdout)
    assert sources and set(sources) <= set(approved.group(1).split(", ")), r.stdout


def test_demo_killed_with_sigterm_stops_its_children(tmp_path: Path) -> None:
    import signal

    import psutil

    env = {
        **os.environ,
        "TICKETFLOW_DATA_DIR": str(tmp_path / "data"),
        "TICKETFLOW_ENGINE": "fake",
        "TICKETFLOW_REDIS_URL": f"redis://127.0.0.1:{free_port()}/0",
    }
    demo = subprocess.Popen(
        [sys.executable, "-m", "ticketflow.cli", "demo", "--keep-running"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert demo.stdout is not None
    for line in demo.stdout:  # wait until it is serving
        if "Ctrl-C to stop" in line:
            break
    children = psutil.Process(demo.pid).children(recursive=True)
    try:
        assert len(children) >= 4  # embedded Redis, worker, API and delivery worker
        demo.send_signal(signal.SIGTERM)
        demo.send_signal(signal.SIGTERM)  # twice, as `timeout` plus a supervisor would
        assert demo.wait(60) == 128 + signal.SIGTERM
        _gone, alive = psutil.wait_procs(children, timeout=30)
    finally:
        for p in [*children, psutil.Process(demo.pid)] if demo.poll() is None else children:
            if p.is_running():
                p.kill()
        demo.stdout.close()
    assert alive == [], f"left running: {alive}"
