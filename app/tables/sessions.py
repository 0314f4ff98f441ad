"""Server-side web sessions, kept in the database so that neither a Redis outage nor a Redis restart logs anyone out."""

from piccolo.columns import Serial, Text, Timestamptz, Varchar
from piccolo.table import Table


class WebSession(Table):
    """One session: its id (the cookie's value), its JSON data, and when the store forgets it."""

    id: Serial  # added by Piccolo (primary key); declared for type checkers only

    key = Varchar(length=128, unique=True, index=True)
    data = Text()
    expires_at = Timestamptz(index=True)
