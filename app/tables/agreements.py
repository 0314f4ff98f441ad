"""The end of a mediation: its timeline, the proposals and the decisions on them, the signed agreements, the
certificates of non-agreement, the success fee, and the escalation bundles' opt-ins (on Claim)."""

from piccolo.columns import JSON, ForeignKey, Integer, Serial, Text, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from app.tables.accounts import User
from app.tables.cases import Case, Claim


class Phase(Table):
    """One step of a case's timeline; every deadline lies before the case's limit (R612-5, `Case.ends_at`)."""

    id: Serial  # added by Piccolo (primary key); declared for type checkers only

    case = ForeignKey(references=Case, index=True)
    position = Integer()  # order on the timeline, 1..n
    kind = Varchar(length=24)  # statements, company_response, negotiation, decision, or custom
    title = Varchar(length=120, default="")  # a custom title; "" shows the kind's translated name
    due_at = Timestamptz()
    done_at = Timestamptz(null=True, default=None)
    updated_at = Timestamptz(default=TimestamptzNow())


class DeadlineExtension(Table):
    """The mediator pushed the case's limit beyond 90 days (R612-5: with a reason, every party told at once)."""

    id: Serial  # added by Piccolo (primary key); declared for type checkers only

    case = ForeignKey(references=Case, index=True)
    previous_ends_at = Timestamptz()
    new_ends_at = Timestamptz()
    reason = Text()
    decided_by = ForeignKey(references=User, null=True)
    created_at = Timestamptz(default=TimestamptzNow())


class Proposal(Table):
    """A company's offer or the mediator's proposed solution, one version of it.

    Amending makes a new row with the same `number` and the next `version`; older versions stay readable
    (status "superseded"). Unique per (case, number, version), see the migration.
    """

    id: Serial  # added by Piccolo (primary key); declared for type checkers only

    case = ForeignKey(references=Case, index=True)
    number = Integer()  # 1, 2, ... within the case
    version = Integer(default=1)
    author = ForeignKey(references=User, null=True)
    author_role = Varchar(length=12)  # company or mediator
    terms = Text()
    rule_kind = Varchar(length=12)  # fixed (an amount each), share (of the claimed amount), item (non-monetary)
    fixed_cents = Integer(default=0)
    share_basis_points = Integer(default=0)  # 10000 = 100 % of each consumer's claimed amount
    item = Text(default="")  # what each consumer receives when the rule is "item"
    vote_threshold_pct = Integer(default=75)  # the indicative vote's threshold
    vote_closes_at = Timestamptz()
    decide_by = Timestamptz()  # individual decisions until then (R612-4: the deadline is shown with the notices)
    notices = JSON(default={})  # the R612-4 notices as shown with this version, per language
    status = Varchar(length=16, default="open", index=True)  # open, superseded, withdrawn, locked, finalized
    created_at = Timestamptz(default=TimestamptzNow())
    vote_closed_at = Timestamptz(null=True, default=None)
    locked_at = Timestamptz(null=True, default=None)  # finalization started: no more decisions or amendments
    finalized_at = Timestamptz(null=True, default=None)  # agreements and certificates produced


class Vote(Table):
    """A consumer's indicative vote on one proposal version (unique per pair; it binds no one)."""

    id: Serial  # added by Piccolo (primary key); declared for type checkers only

    proposal = ForeignKey(references=Proposal, index=True)
    consumer = ForeignKey(references=User)
    choice = Varchar(length=8)  # yes, no, abstain
    comment = Text(default="")
    created_at = Timestamptz(default=TimestamptzNow())
    updated_at = Timestamptz(default=TimestamptzNow())


class Decision(Table):
    """A consumer's own accept / refuse on one proposal version, with the amount they saw (unique per pair)."""

    id: Serial  # added by Piccolo (primary key); declared for type checkers only

    proposal = ForeignKey(references=Proposal, index=True)
    claim = ForeignKey(references=Claim, index=True)
    consumer = ForeignKey(references=User)
    choice = Varchar(length=8)  # accept, refuse
    amount_cents = Integer(default=0)
    notices_shown_at = Timestamptz()  # when the R612-4 notices were displayed with the form that was sent
    created_at = Timestamptz(default=TimestamptzNow())
    updated_at = Timestamptz(default=TimestamptzNow())


class Agreement(Table):
    """One accepting consumer's personal agreement (PDF), signed by them, countersigned by the company.

    Unique per (proposal, claim): finalization run twice makes it once.
    """

    id: Serial  # added by Piccolo (primary key); declared for type checkers only

    case = ForeignKey(references=Case, index=True)
    proposal = ForeignKey(references=Proposal, index=True)
    claim = ForeignKey(references=Claim, index=True)
    consumer = ForeignKey(references=User, index=True)
    amount_cents = Integer(default=0)
    item = Text(default="")
    stored_name = Varchar(length=64, unique=True)
    sha256 = Varchar(length=64)  # of the PDF file as stored
    created_at = Timestamptz(default=TimestamptzNow())
    signed_at = Timestamptz(null=True, default=None)
    signed_ip = Varchar(length=64, default="")
    signed_user_agent = Varchar(length=400, default="")
    countersigned_at = Timestamptz(null=True, default=None)
    countersigned_by = ForeignKey(references=User, null=True)


class CollectiveRecord(Table):
    """The record of a finalized proposal: who accepted, refused or stayed silent; countersigned once for all."""

    id: Serial  # added by Piccolo (primary key); declared for type checkers only

    case = ForeignKey(references=Case, index=True)
    proposal = ForeignKey(references=Proposal, unique=True)
    stored_name = Varchar(length=64, unique=True)
    sha256 = Varchar(length=64)
    created_at = Timestamptz(default=TimestamptzNow())
    countersigned_at = Timestamptz(null=True, default=None)
    countersigned_by = ForeignKey(references=User, null=True)
    countersigned_ip = Varchar(length=64, default="")
    countersigned_user_agent = Varchar(length=400, default="")


class Certificate(Table):
    """A certificate of non-agreement (PDF) for one claim: refused, silent, withdrawn, expired, unsigned.

    Its dates are those that matter for limitation periods (art. 2238 of the Civil Code). One per claim.
    """

    id: Serial  # added by Piccolo (primary key); declared for type checkers only

    case = ForeignKey(references=Case, index=True)
    claim = ForeignKey(references=Claim, unique=True)
    consumer = ForeignKey(references=User, index=True)
    reason = Varchar(length=16)
    mediation_started_at = Timestamptz(null=True, default=None)
    mediation_ended_at = Timestamptz()
    stored_name = Varchar(length=64, unique=True)
    sha256 = Varchar(length=64)
    created_at = Timestamptz(default=TimestamptzNow())


class Fee(Table):
    """The platform's success fee for a case, computed from the signed agreements and owed by the company."""

    id: Serial  # added by Piccolo (primary key); declared for type checkers only

    case = ForeignKey(references=Case, unique=True)
    agreements = Integer(default=0)
    basis_cents = Integer(default=0)  # the total of the signed amounts
    amount_cents = Integer(default=0)
    rule = JSON(default={})  # the rule that computed it, as configured at that time
    invoice_number = Varchar(length=32, unique=True)
    stored_name = Varchar(length=64, unique=True)
    sha256 = Varchar(length=64)
    status = Varchar(length=12, default="owed")
    created_at = Timestamptz(default=TimestamptzNow())
