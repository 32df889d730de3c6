"""Liveness of what the API depends on: the database and Redis."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response, status
from sqlalchemy import text

from producer.api.deps import SessionDep

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz(request: Request, session: SessionDep, response: Response) -> dict[str, Any]:
    checks: dict[str, str] = {}
    try:
        session.exec(text("SELECT 1"))  # type: ignore[call-overload]
        checks["database"] = "ok"
    except Exception as err:  # report, don't crash: this endpoint exists to say what is down
        checks["database"] = f"error: {err.__class__.__name__}"
    try:
        request.app.state.redis_client().ping()
        checks["redis"] = "ok"
    except Exception as err:
        checks["redis"] = f"error: {err.__class__.__name__}"
    ok = all(v == "ok" for v in checks.values())
    if not ok:
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    return {"status": "ok" if ok else "degraded", **checks}
