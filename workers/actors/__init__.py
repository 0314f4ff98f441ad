"""Every actor, imported together so a `dramatiq workers.actors` process knows them all."""

from workers import broker  # noqa: F401  (the broker must exist before any actor)
from workers.actors.mail import deliver_mail
from workers.actors.reminders import send_reminder

__all__ = ["deliver_mail", "send_reminder"]
