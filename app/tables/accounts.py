"""Accounts: users of every role and the single-use tokens mailed to them."""

from enum import StrEnum

from piccolo.columns import Boolean, ForeignKey, Integer, Serial, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table


class Role(StrEnum):
    consumer = "consumer"
    company = "company"
    mediator = "mediator"
    staff = "staff"


class User(Table, tablename="account"):
    id: Serial  # added by Piccolo (primary key); declared for type checkers only
    email = Varchar(length=254, unique=True, index=True)
    display_name = Varchar(length=80)
    password_hash = Varchar(length=200)
    role = Varchar(length=16, choices=Role, default=Role.consumer.value)
    locale = Varchar(length=5, default="fr")
    email_verified_at = Timestamptz(null=True, default=None)
    session_version = Integer(default=1)
    is_active = Boolean(default=True)
    notify_mode = Varchar(length=12, default="immediate")  # immediate, digest, off (legal notices always go)
    last_digest_at = Timestamptz(null=True, default=None)
    created_at = Timestamptz(default=TimestamptzNow())


class TokenPurpose(StrEnum):
    verify_email = "verify_email"
    reset_password = "reset_password"  # noqa: S105  (a purpose, not a password)


class AccountToken(Table):
    """A mailed token; only its SHA-256 is stored, and it is spent by one conditional update."""

    id: Serial  # added by Piccolo (primary key); declared for type checkers only

    user = ForeignKey(references=User, index=True)
    purpose = Varchar(length=16, choices=TokenPurpose)
    token_hash = Varchar(length=64, unique=True)
    expires_at = Timestamptz()
    used_at = Timestamptz(null=True, default=None)
    created_at = Timestamptz(default=TimestamptzNow())
