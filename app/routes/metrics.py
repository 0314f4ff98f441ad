"""/metrics for Prometheus: METRICS_TOKEN as a bearer token, or, without one, clients on this machine only."""

from __future__ import annotations

from typing import Any

from litestar import Controller, MediaType, Request, Response, get
from prometheus_client import CONTENT_TYPE_LATEST

from app.platform import metrics
from app.settings import settings_of


class MetricsController(Controller):
    path = "/metrics"

    @get("/", name="show_metrics", exclude_from_csrf=True, include_in_schema=False, cache=False)
    async def show_metrics(self, request: Request[Any, Any, Any]) -> Response[bytes | str]:
        """This process's counters and the backlog read now from the database and the broker."""
        token = settings_of(request).metrics_token
        client = request.client.host if request.client else None
        if not metrics.may_scrape(request.headers.get("authorization"), client, token):
            # Plain answers, not the HTML error pages (whose 401 would redirect to the login page).
            if token:
                return Response("unauthorized\n", status_code=401, media_type=MediaType.TEXT,
                                headers={"WWW-Authenticate": "Bearer", "Cache-Control": "no-store"})
            return Response("forbidden: set METRICS_TOKEN to scrape from elsewhere\n", status_code=403,
                            media_type=MediaType.TEXT, headers={"Cache-Control": "no-store"})
        import workers.actors  # noqa: F401  (declares every queue on the broker)
        from workers.broker import broker

        body = metrics.exposition(await metrics.read_backlog(broker))
        return Response(body, media_type=CONTENT_TYPE_LATEST, headers={"Cache-Control": "no-store"})
