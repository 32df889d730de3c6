"""A small chaos run: the same harness as ``bench/chaos.py``, on its own Redis and PostgreSQL.

Tickets go through the real API at a steady rate while busy workers are SIGKILLed, Redis is
SIGKILLed and restarted (POSTs keep coming during the outage) and PostgreSQL is stopped and
started. With default ticketflow settings nothing may be lost or triaged twice, no request may
get a 500, no worker may die of a dependency's restart, and every ticket must be done within
60 s of the last fault.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"
if str(BENCH) not in sys.path:
    sys.path.insert(0, str(BENCH))

from chaos import ChaosConfig, run_chaos  # noqa: E402

pytestmark = pytest.mark.integration

BOUND_S = 60.0


def test_no_loss_no_duplicate_no_500_under_faults(tmp_path: Path) -> None:
    cfg = ChaosConfig(
        tickets=150,
        rate=10.0,
        workers=2,
        worker_kills=2,
        redis_down_s=3.0,
        db_down_s=8.0,
        settle_timeout_s=120.0,
    )
    messages: list[str] = []
    report = run_chaos(cfg, tmp_path, log=messages.append)
    where = f"faults {report.faults}; logs in {tmp_path / 'logs'}"

    assert messages.count("worker SIGKILLed") == 2, messages
    assert "Redis restarted" in messages and "PostgreSQL started" in messages, messages
    assert report.acknowledged == cfg.tickets, where
    assert report.lost == 0, where
    assert report.duplicated == 0, where
    assert report.http_500 == 0 and report.other_5xx == 0, where
    assert report.workers_died == 0, where
    assert report.max_wait_after_last_fault_s <= BOUND_S, where
