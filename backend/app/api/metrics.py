"""GET /metrics: Prometheus' text format (see app.runtime.metrics)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST

from app.runtime import metrics

router = APIRouter(tags=["health"])


@router.get("/metrics", response_class=Response)
async def prometheus_metrics(request: Request) -> Response:
    """Fires, skips and lag; executions and node runs; queue depth and worker heartbeats."""
    body = await metrics.scrape(request.app.state.database)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
