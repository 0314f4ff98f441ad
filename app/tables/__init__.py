"""Every Piccolo table, re-exported for `table_finder`."""

from app.tables.accounts import AccountToken, Role, TokenPurpose, User
from app.tables.mail import MailStatus, OutboxMail

__all__ = ["AccountToken", "MailStatus", "OutboxMail", "Role", "TokenPurpose", "User"]
