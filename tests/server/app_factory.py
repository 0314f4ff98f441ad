"""The app as the server tests run it: the real create_app, with a short heartbeat and membership re-check.

`uvicorn tests.server.app_factory:create_app --factory`; CLF_TEST_HEARTBEAT_S and CLF_TEST_MEMBERSHIP_S set the
two periods (the defaults, 15 s and 60 s, would make the tests wait).
"""

from __future__ import annotations

import os

from litestar import Litestar


def create_app() -> Litestar:
    from app.asgi import create_app as create_real_app
    from app.routes import stream

    stream.HEARTBEAT_S = float(os.environ.get("CLF_TEST_HEARTBEAT_S", stream.HEARTBEAT_S))
    stream.MEMBERSHIP_CHECK_S = float(os.environ.get("CLF_TEST_MEMBERSHIP_S", stream.MEMBERSHIP_CHECK_S))
    return create_real_app()
