"""The app as the server tests run it: the real create_app, with a short heartbeat and membership re-check.

`uvicorn tests.server.app_factory:create_app --factory`; CLF_TEST_HEARTBEAT_S and CLF_TEST_MEMBERSHIP_S set the
two periods (the defaults, 15 s and 60 s, would make the tests wait); CLF_TEST_SESSION_IDLE_S, when set, is the
session's idle limit in seconds (the setting counts in minutes).
"""

from __future__ import annotations

import dataclasses
import os

from litestar import Litestar


def create_app() -> Litestar:
    from app.asgi import create_app as create_real_app
    from app.live import hub
    from app.settings import get_settings

    hub.HEARTBEAT_S = float(os.environ.get("CLF_TEST_HEARTBEAT_S", hub.HEARTBEAT_S))
    hub.MEMBERSHIP_CHECK_S = float(os.environ.get("CLF_TEST_MEMBERSHIP_S", hub.MEMBERSHIP_CHECK_S))
    settings = get_settings()
    if idle := os.environ.get("CLF_TEST_SESSION_IDLE_S"):
        settings = dataclasses.replace(settings, session_idle_minutes=float(idle) / 60)  # type: ignore[arg-type]
    return create_real_app(settings)
