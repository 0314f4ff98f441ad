"""Companies, collective cases, claims with their evidence, reviews, invitations and mediator assignments."""

from piccolo.columns import (
    JSON,
    Date,
    ForeignKey,
    Integer,
    Serial,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from app.tables.accounts import User


class Company(Table):
    id: Serial  # added by Piccolo (primary key); declared for type checkers only
    name = Varchar(length=120, index=True)
    siren = Varchar(length=9, null=True, default=None, unique=True)
    website = Varchar(length=200, default="")
    contact_email = Varchar(length=254, default="")
    verified_at = Timestamptz(null=True, default=None)
    created_by = ForeignKey(references=User, null=True)
    created_at = Timestamptz(default=TimestamptzNow())


class CompanyMember(Table):
    """A company representative's link to their company (unique per pair, see the migration)."""

    id: Serial  # added by Piccolo (primary key); declared for type checkers only

    company = ForeignKey(references=Company, index=True)
    user = ForeignKey(references=User, index=True)
    joined_at = Timestamptz(default=TimestamptzNow())


class CompanyInvite(Table):
    """A link by which a representative joins a company; only its SHA-256 is stored."""

    id: Serial  # added by Piccolo (primary key); declared for type checkers only

    company = ForeignKey(references=Company, index=True)
    email = Varchar(length=254)
    token_hash = Varchar(length=64, unique=True)
    expires_at = Timestamptz()
    used_at = Timestamptz(null=True, default=None)
    used_by = ForeignKey(references=User, null=True)
    created_by = ForeignKey(references=User, null=True)
    created_at = Timestamptz(default=TimestamptzNow())


class Case(Table, tablename="dispute_case"):
    id: Serial  # added by Piccolo (primary key); declared for type checkers only
    company = ForeignKey(references=Company, index=True)
    title = Varchar(length=160)
    problem = Text()
    category = Varchar(length=32, index=True)
    demand = Text()
    status = Varchar(length=16, index=True, default="open")
    search_text = Text(default="")  # stemmed, accent-folded words for full-text search
    created_by = ForeignKey(references=User, null=True)
    created_at = Timestamptz(default=TimestamptzNow())
    invited_at = Timestamptz(null=True, default=None)
    company_deadline = Timestamptz(null=True, default=None)
    accepted_at = Timestamptz(null=True, default=None)
    refused_at = Timestamptz(null=True, default=None)
    refusal_reason = Text(default="")
    mediator = ForeignKey(references=User, null=True)
    started_at = Timestamptz(null=True, default=None)
    ends_at = Timestamptz(null=True, default=None)  # the 90-day limit (R612-5), extensions included
    closed_at = Timestamptz(null=True, default=None)
    outcome = Varchar(length=16, default="")  # when closed: agreement, no_agreement, expired


class Claim(Table):
    """One consumer's participation in a case (one per consumer and case, see the migration)."""

    id: Serial  # added by Piccolo (primary key); declared for type checkers only

    case = ForeignKey(references=Case, index=True)
    consumer = ForeignKey(references=User, index=True)
    facts = Text()
    amount_cents = Integer()
    incident_date = Date()
    complaint_date = Date()
    status = Varchar(length=16, index=True, default="submitted")
    review_reason = Text(default="")
    submitted_at = Timestamptz(default=TimestamptzNow())
    reviewed_at = Timestamptz(null=True, default=None)
    withdrawn_at = Timestamptz(null=True, default=None)
    escalation_opt_in_at = Timestamptz(null=True, default=None)
    updated_at = Timestamptz(default=TimestamptzNow())


class Evidence(Table):
    """A file attached to a claim, stored outside the static folder under a random name."""

    id: Serial  # added by Piccolo (primary key); declared for type checkers only

    claim = ForeignKey(references=Claim, index=True)
    kind = Varchar(length=16, default="evidence")  # "evidence" or "complaint" (proof of the prior complaint)
    original_name = Varchar(length=120)
    stored_name = Varchar(length=64, unique=True)
    content_type = Varchar(length=40)
    size_bytes = Integer()
    sha256 = Varchar(length=64)
    uploaded_at = Timestamptz(default=TimestamptzNow())


class ClaimReview(Table):
    """An admissibility decision (L612-2) with its checklist; the latest one is the claim's status."""

    id: Serial  # added by Piccolo (primary key); declared for type checkers only

    claim = ForeignKey(references=Claim, index=True)
    reviewer = ForeignKey(references=User)
    decision = Varchar(length=16)  # admitted / needs_info / rejected
    checklist = JSON(default={})
    reason = Text(default="")
    created_at = Timestamptz(default=TimestamptzNow())


class CaseInvitation(Table):
    """The company's invitation to mediation for one case, answered once before its deadline."""

    id: Serial  # added by Piccolo (primary key); declared for type checkers only

    case = ForeignKey(references=Case, index=True)
    email = Varchar(length=254)
    token_hash = Varchar(length=64, unique=True)
    deadline = Timestamptz()
    answer = Varchar(length=16, default="")  # "", accepted, declined, expired
    answer_reason = Text(default="")
    answered_by = ForeignKey(references=User, null=True)
    answered_at = Timestamptz(null=True, default=None)
    created_by = ForeignKey(references=User, null=True)
    created_at = Timestamptz(default=TimestamptzNow())


class MediatorAssignment(Table):
    """A mediator assigned to a case, their independence declaration (R613-1), and its end if replaced."""

    id: Serial  # added by Piccolo (primary key); declared for type checkers only

    case = ForeignKey(references=Case, index=True)
    mediator = ForeignKey(references=User, index=True)
    assigned_by = ForeignKey(references=User, null=True)
    assigned_at = Timestamptz(default=TimestamptzNow())
    declared_at = Timestamptz(null=True, default=None)
    independence_statement = Text(default="")
    conflicts_disclosed = Text(default="")
    ended_at = Timestamptz(null=True, default=None)
    end_reason = Text(default="")


class MediatorObjection(Table):
    id: Serial  # added by Piccolo (primary key); declared for type checkers only
    assignment = ForeignKey(references=MediatorAssignment, index=True)
    objector = ForeignKey(references=User)
    reason = Text()
    status = Varchar(length=16, default="open")  # open, upheld, dismissed
    created_at = Timestamptz(default=TimestamptzNow())
    resolved_at = Timestamptz(null=True, default=None)
    resolved_by = ForeignKey(references=User, null=True)


class AuditEvent(Table):
    """Who did what to a case, and when: the record the legal rules ask for."""

    id: Serial  # added by Piccolo (primary key); declared for type checkers only

    case = ForeignKey(references=Case, null=True, index=True)
    actor = ForeignKey(references=User, null=True)
    kind = Varchar(length=40)
    details = JSON(default={})
    created_at = Timestamptz(default=TimestamptzNow())


