"""The `ticketflow` command's edges: clear errors, exit codes, GPU pinning."""

import os
import subprocess
import sys

import pytest

from shared.errors import ConfigError
from worker.commands import pin_gpu


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ticketflow.cli", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=120,
    )


def test_help_lists_the_daily_commands() -> None:
    out = _cli("--help").stdout
    for cmd in ("demo", "api", "worker", "db", "requeue"):
        assert cmd in out


@pytest.mark.parametrize("cmd", [["api"], ["worker", "--gpu", "cpu"], ["db", "upgrade"]])
def test_invalid_setting_fails_at_start_naming_the_variable(cmd: list[str]) -> None:
    r = _cli(*cmd, env={"TICKETFLOW_BATCH_SIZE": "-3"})
    assert r.returncode == 2
    assert "TICKETFLOW_BATCH_SIZE" in r.stderr and "Traceback" not in r.stderr


def test_bad_gpu_argument_is_refused() -> None:
    r = _cli("worker", "--gpu", "first")
    assert r.returncode == 2 and "--gpu must be" in r.stderr and "Traceback" not in r.stderr


def test_pin_gpu_sets_cuda_visible_devices(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    assert pin_gpu("3") == "cuda:3" and os.environ["CUDA_VISIBLE_DEVICES"] == "3"
    assert pin_gpu("cpu") == "cpu" and os.environ["CUDA_VISIBLE_DEVICES"] == ""
    with pytest.raises(ConfigError):
        pin_gpu("-1")


def test_worker_pins_gpu_before_torch_is_imported() -> None:
    probe = (
        "import sys; from worker.commands import pin_gpu; "
        "assert 'torch' not in sys.modules; pin_gpu('0'); import torch; "
        "print(torch.cuda.device_count() <= 1)"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "True"


def test_db_upgrade_creates_the_schema(tmp_path) -> None:
    r = _cli("db", "upgrade", env={"TICKETFLOW_DATA_DIR": str(tmp_path)})
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "ticketflow.db").exists()
