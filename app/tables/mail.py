"""The outbox: every mail is a row first, then a Dramatiq actor delivers it."""

from enum import StrEnum

from piccolo.columns import Integer, Serial, Text, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table


class MailStatus(StrEnum):
    pending = "pending"  # waiting for (another) delivery attempt
    sending = "sending"  # claimed by an actor until claimed_until
    sent = "sent"
    failed = "failed"  # gave up after the last attempt
    held = "held"  # no SMTP configured: kept for the local mailbox page


class OutboxMail(Table):
    id: Serial  # added by Piccolo (primary key); declared for type checkers only
    to_address = Varchar(length=254)
    subject = Varchar(length=200)
    body_text = Text()
    status = Varchar(length=8, choices=MailStatus, default=MailStatus.pending.value, index=True)
    attempts = Integer(default=0)
    last_error = Text(default="")
    claimed_until = Timestamptz(null=True, default=None)
    created_at = Timestamptz(default=TimestamptzNow())
    sent_at = Timestamptz(null=True, default=None)
