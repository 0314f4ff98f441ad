"""What an action answers when it will not do what it was asked: the project's own exceptions, which know no HTTP.

create_app (app/asgi.py) turns each into its page, once, with app/http/errors.py: NotFound a 404, Forbidden a 403,
CharterRequired the room's door, Refused its message with its status. A route that answers otherwise catches
them by name (the stream answers CharterRequired with a 403: it is no page to be sent to the charter from).
"""

from __future__ import annotations


class ActionError(Exception):
    """What an action refused to do for this user; never a programming error."""


class NotFound(ActionError):
    """Not there, or not this user's to know of (ids cannot be probed): a 404."""


class Forbidden(ActionError):
    """Known to this user, but not theirs to do: a 403."""


class CharterRequired(Forbidden):
    """A member of a case's room who has not accepted its confidentiality charter yet: sent to the room's door."""

    def __init__(self, case_id: int) -> None:
        super().__init__(f"charter not accepted (case {case_id})")
        self.case_id = case_id


class Refused(ActionError):
    """Not possible now; `message` (already translated) says why, `status_code` which refusal it is (409 a state
    that does not allow it, 403 not this user's to do, 422 an invalid choice, 410 gone, 429 too many attempts)."""

    def __init__(self, message: str, status_code: int = 409) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code
