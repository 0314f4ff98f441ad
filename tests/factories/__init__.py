"""Factories for the tests: rows made through the real actions or straight in the tables, and file contents.

`make_company` and `make_case` come in two kinds, so they are not re-exported here: `tests.factories.cases`
opens a case as a consumer would (through the action, with their claim), `tests.factories.mediation` writes a
bare case of a company straight to the tables. Import those two from their module.
"""

from tests.factories.accounts import PASSWORD, Account, make_account, unique_email
from tests.factories.cases import case_values, claim_values
from tests.factories.files import EXE_BYTES, JPEG_BYTES, pdf_bytes, png_bytes
from tests.factories.mediation import (
    World,
    assign,
    make_claim,
    make_due,
    make_member,
    make_world,
    notifications_of,
    reload,
    reload_claim,
    reminders,
)
from tests.factories.proposals import (
    ProposalWorld,
    accept_charter,
    make_proposal,
    make_proposal_world,
    reload_proposal,
    set_claim_status,
)

__all__ = [
    "EXE_BYTES",
    "JPEG_BYTES",
    "PASSWORD",
    "Account",
    "ProposalWorld",
    "World",
    "accept_charter",
    "assign",
    "case_values",
    "claim_values",
    "make_account",
    "make_claim",
    "make_due",
    "make_member",
    "make_proposal",
    "make_proposal_world",
    "make_world",
    "notifications_of",
    "pdf_bytes",
    "png_bytes",
    "reload",
    "reload_claim",
    "reload_proposal",
    "reminders",
    "set_claim_status",
    "unique_email",
]
