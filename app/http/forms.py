"""Reading form posts defensively: every field a bounded string, whatever the client sent."""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.exceptions import ClientException

# A field longer than this is refused outright (the rules then give the precise, friendly limit).
FIELD_HARD_LIMIT = 10_000
UNSTRIPPED_FIELDS = frozenset({"password", "password_confirm", "current_password"})


class FormData:
    def __init__(self, values: dict[str, str]) -> None:
        self._values = values

    def text(self, name: str) -> str:
        """The field's value ('' when absent); stripped, except passwords which may end in a space."""
        return self._values.get(name, "")


async def read_form(request: Request[Any, Any, Any]) -> FormData:
    """Parse an URL-encoded or multipart form into str fields; odd input is a 400, never a 500."""
    try:
        form = await request.form()
    except (UnicodeDecodeError, ValueError) as error:
        raise ClientException(detail="malformed form") from error
    values: dict[str, str] = {}
    for key, value in form.multi_items():
        if not isinstance(value, str):
            continue  # files are read by the routes that expect them
        if len(value) > FIELD_HARD_LIMIT:
            value = value[: FIELD_HARD_LIMIT + 1]
        values.setdefault(str(key), value if key in UNSTRIPPED_FIELDS else value.strip())
    return FormData(values)
