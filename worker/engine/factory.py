"""Builds the engine named in settings. Called once per worker process."""

from __future__ import annotations

from shared.config import Settings
from worker.engine.base import Engine


def build_engine(settings: Settings) -> Engine:
    if settings.engine == "fake":
        from worker.engine.fake_engine import FakeEngine

        return FakeEngine()
    if settings.engine == "fake-stall":
        from worker.engine.fake_engine import StallingFakeEngine

        return StallingFakeEngine()
    from worker.engine.transformers_engine import TransformersEngine

    return TransformersEngine(settings)
