"""The live stream of one space (server-sent events): parse, authorize through app.actions.room, hand over to the
live engine (app.live), which replays what the browser missed and then sends what comes."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, get
from litestar.channels import ChannelsPlugin
from litestar.di import NamedDependency
from litestar.params import QueryParameter
from litestar.response import Stream

from app.actions import room
from app.actions.errors import CharterRequired, Forbidden
from app.http.auth import current_user, requires_login
from app.http.web import RowId
from app.live import MAX_SEQ, LiveStream, resume_point, stream_deadline
from app.settings import settings_of


class StreamController(Controller):
    path = "/spaces/{space_id:int}/stream"
    guards = [requires_login]

    @get(name="space_stream", opt={"skip_compression": True}, cache=False)
    async def stream_space(
        self, request: Request[Any, Any, Any], space_id: RowId, channels: NamedDependency[ChannelsPlugin],
        after: Annotated[int | None, QueryParameter(ge=0, le=MAX_SEQ)] = None,
    ) -> Stream:
        """The space's messages as server-sent events: `event: message`, `id: <seq>`, the rendered fragment; and
        `event: changed` (no id) with the new fragment of a message hidden meanwhile."""
        user = await current_user(request)
        assert user is not None  # requires_login
        try:
            space = await room.space_for_member(user, space_id)  # NotFound (404) for non-members
        except CharterRequired:
            raise Forbidden() from None  # 403: a stream is no page to be sent to the charter from
        start = resume_point(request.headers.get("last-event-id"), after)
        session = request.scope.get("session")
        session = session if isinstance(session, dict) else {}
        live = LiveStream(channels, space, user, session.get("ver"), start,
                          expires=stream_deadline(session, settings_of(request)))
        return Stream(live.events(), media_type="text/event-stream",
                      headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})
