"""Imports every module that registers reminder handlers, so the actor knows them all."""

import app.actions.agreements  # noqa: F401  (agreements_sign, agreements_countersign)
import app.actions.invitations  # noqa: F401  (invitation_reminder, invitation_expire)
import app.actions.proposals  # noqa: F401  (proposal_vote_due, proposal_decision_due)
import app.actions.reviews  # noqa: F401  (claim_review_due)
import app.actions.timeline  # noqa: F401  (mediation_limit)
