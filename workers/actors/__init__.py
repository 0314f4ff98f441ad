"""Every actor, imported together so a `dramatiq workers.actors` process knows them all."""

from workers import broker  # noqa: F401  (the broker must exist before any actor)
from workers.actors.mail import deliver_mail
from workers.actors.reminders import send_reminder
from workers.agreements import finalize_proposal

__all__ = ["deliver_mail", "finalize_proposal", "send_reminder"]
