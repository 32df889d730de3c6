"""A worker's metrics port: one per GPU on a host, loopback by default, and a port already
taken does not stop the worker."""

from __future__ import annotations

import logging
import urllib.request

import pytest

from shared.config import load_settings
from shared.metrics_export import serve_metrics
from ticketflow.processes import free_port
from worker.cli import metrics_port_for


def test_one_port_per_gpu() -> None:
    assert metrics_port_for(9400, "0", -1) == 9400
    assert metrics_port_for(9400, "3", -1) == 9403
    assert metrics_port_for(9400, "cpu", -1) == 9400
    assert metrics_port_for(0, "2", -1) == 0  # metrics off stays off
    assert metrics_port_for(9400, "2", 9999) == 9999  # the option wins


def test_serves_and_survives_a_taken_port(
    caplog: pytest.LogCaptureFixture, tmp_path: object
) -> None:
    settings = load_settings(data_dir=tmp_path)
    port = free_port()
    assert serve_metrics(settings, port)
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        assert b"ticketflow_stage_seconds" in r.read()
    with caplog.at_level(logging.ERROR):
        assert not serve_metrics(settings, port)
    assert "metrics not served" in caplog.text
    assert not serve_metrics(settings, 0)
