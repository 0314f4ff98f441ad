"""In-app notifications and the reminders the scheduler sends once each."""

from piccolo.columns import JSON, Boolean, ForeignKey, Serial, Text, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from app.tables.accounts import User
from app.tables.cases import Case


class Notification(Table):
    """One event for one user, written in their language; mailed at once, in a daily digest, or not."""

    id: Serial  # added by Piccolo (primary key); declared for type checkers only

    user = ForeignKey(references=User, index=True)
    case = ForeignKey(references=Case, null=True)
    kind = Varchar(length=40)
    title = Varchar(length=300)  # written in the recipient's language when the event happens
    body = Text(default="")
    link = Varchar(length=300, default="")  # a local path
    params = JSON(default={})
    is_legal = Boolean(default=False)  # legal notices are mailed whatever the preferences
    created_at = Timestamptz(default=TimestamptzNow(), index=True)
    read_at = Timestamptz(null=True, default=None)
    mailed_at = Timestamptz(null=True, default=None)  # immediate mail sent, or included in a digest


class Reminder(Table):
    """Work due at a time, with a unique key so that it is created and sent once."""

    id: Serial  # added by Piccolo (primary key); declared for type checkers only

    key = Varchar(length=160, unique=True)
    kind = Varchar(length=40)
    case = ForeignKey(references=Case, null=True, index=True)
    params = JSON(default={})
    due_at = Timestamptz(index=True)
    status = Varchar(length=12, default="pending", index=True)  # pending, claimed, done, cancelled
    claimed_at = Timestamptz(null=True, default=None)
    done_at = Timestamptz(null=True, default=None)
    last_error = Text(default="")
