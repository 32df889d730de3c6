"""``GET /metrics``: Prometheus' text format, behind a key (``access.deps.require_metrics``)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from access.deps import require_metrics

router = APIRouter(tags=["health"])


@router.get("/metrics", dependencies=[Depends(require_metrics)], include_in_schema=False)
def metrics(request: Request) -> Response:
    return Response(
        generate_latest(request.app.state.metrics_registry), media_type=CONTENT_TYPE_LATEST
    )
