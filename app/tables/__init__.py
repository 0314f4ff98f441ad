"""Every Piccolo table, re-exported for `table_finder`."""

from app.tables.accounts import AccountToken, Role, TokenPurpose, User
from app.tables.agreements import (
    Agreement,
    Certificate,
    CollectiveRecord,
    DeadlineExtension,
    Decision,
    Fee,
    Phase,
    Proposal,
    Vote,
)
from app.tables.cases import (
    AuditEvent,
    Case,
    CaseInvitation,
    Claim,
    ClaimReview,
    Company,
    CompanyInvite,
    CompanyMember,
    Evidence,
    MediatorAssignment,
    MediatorObjection,
)
from app.tables.mail import MailStatus, OutboxMail
from app.tables.notifications import Notification, Reminder
from app.tables.room import (
    CharterAcceptance,
    Message,
    MessageAttachment,
    MessageReport,
    Mute,
    Pseudonym,
    Space,
    SpaceRead,
)
from app.tables.sessions import WebSession

__all__ = [
    "AccountToken", "AuditEvent", "Case", "CaseInvitation", "Claim", "ClaimReview", "Company", "CompanyInvite",
    "CompanyMember", "Evidence", "MailStatus", "MediatorAssignment", "MediatorObjection", "Notification",
    "OutboxMail", "Reminder", "Role", "TokenPurpose", "User",
    "Agreement", "Certificate", "CollectiveRecord", "DeadlineExtension", "Decision", "Fee", "Phase", "Proposal",
    "Vote",
    "CharterAcceptance", "Message", "MessageAttachment", "MessageReport", "Mute", "Pseudonym", "Space", "SpaceRead",
    "WebSession",
]
