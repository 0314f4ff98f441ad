"""Server-side web sessions, kept in the database so that neither a Redis outage nor a Redis restart logs anyone out."""

from piccolo.columns import Text, Timestamptz, Varchar
from piccolo.table import Table


class WebSession(Table):
    """One session: its id (the cookie's value), its JSON data, and when the store forgets it."""

    key = Varchar(length=128, unique=True, index=True)
    data = Text()
    expires_at = Timestamptz(index=True)
