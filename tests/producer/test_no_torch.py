"""The API side must start fast and never load torch or transformers."""

import subprocess
import sys

PROBE = """
import sys, time
from fastapi.testclient import TestClient  # the test harness: not part of the API's start
t0 = time.perf_counter()
from producer.api.app import create_app
from shared.config import load_settings
app = create_app(load_settings(api_keys="k", api_docs=True))
with TestClient(app) as c:
    c.get("/openapi.json")
print(round(time.perf_counter() - t0, 2))
import ticketflow.cli
heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("torch", "transformers", "worker"))
print(heavy)
"""


def _probe() -> tuple[float, str]:
    out = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    return float(out[-2]), out[-1]


def test_api_and_cli_import_no_torch() -> None:
    _, heavy = _probe()
    # worker.cli is allowed (it only pins the GPU); nothing that loads models.
    assert "torch" not in heavy and "transformers" not in heavy, heavy
    assert "worker.engine" not in heavy and "worker.edge.tasks" not in heavy, heavy


def test_api_starts_in_under_a_second() -> None:
    # From the first import of the app to its answer to a first request, in a fresh
    # interpreter (the CLI's other commands are imported after the clock stops). Best of three
    # runs, so that a neighbour process's burst on this shared 2-core box is not counted.
    best = min(_probe()[0] for _ in range(3))
    assert best < 1.0, f"the API took {best:.2f} s to start"
