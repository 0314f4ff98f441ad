"""Imports every module that registers reminder handlers, so the actor knows them all."""

import app.actions.invitations  # noqa: F401  (invitation_reminder, invitation_expire)
import app.actions.reviews  # noqa: F401  (claim_review_due)
