"""The delivery side loads no model: `ticketflow deliver` must not import torch or the worker."""

import subprocess
import sys

PROBE = """
import sys
import delivery.cli, delivery.tasks, delivery.send, delivery.sweeper
heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("torch", "transformers", "worker"))
print(heavy)
"""


def test_delivery_imports_no_torch_nor_worker() -> None:
    out = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert out[-1] == "[]"
