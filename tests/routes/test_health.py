"""Health probes: /healthz says the process answers, /readyz that the database (and Redis, if any) do."""

from __future__ import annotations

from litestar.testing import AsyncTestClient

from app.http.security import CONTENT_SECURITY_POLICY
from tests.fixtures import build_app

UNREACHABLE_REDIS = "redis://127.0.0.1:1/0"


def assert_security_headers(response) -> None:
    assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "same-origin"
    assert response.headers["x-frame-options"] == "DENY"


async def test_healthz(client) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.text == "ok"
    assert response.headers["content-type"].startswith("text/plain")
    assert_security_headers(response)


async def test_readyz_when_everything_answers(client) -> None:
    response = await client.get("/readyz")
    assert response.status_code == 200
    assert response.text == "ready"
    assert response.headers["content-type"].startswith("text/plain")
    assert_security_headers(response)


async def test_probes_open_no_session(client) -> None:
    for path in ("/healthz", "/readyz"):
        response = await client.get(path)
        assert response.status_code == 200
        assert "clf_session" not in response.headers.get("set-cookie", "")


async def test_readyz_reports_an_unreachable_redis() -> None:
    # The app's own settings say where Redis is (tests build apps with their own settings)
    app = build_app(redis_url=UNREACHABLE_REDIS)
    async with AsyncTestClient(app=app, base_url="http://testserver.local") as client:
        response = await client.get("/readyz")
        assert response.status_code == 503
        assert response.text == "not ready: redis"
        assert response.headers["content-type"].startswith("text/plain")
        assert_security_headers(response)
        # The process itself still answers
        alive = await client.get("/healthz")
        assert alive.status_code == 200 and alive.text == "ok"
        assert_security_headers(alive)

