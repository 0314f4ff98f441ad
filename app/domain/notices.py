"""The notices the law requires with every proposed solution (Code de la consommation, R612-4). No I/O.

They are shown with each proposal version, recorded with it in every language at its creation (what was
shown is what is recorded), and printed in every agreement.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_datetime

from app import i18n

PARIS = ZoneInfo("Europe/Paris")
BABEL_LOCALES = {"fr": "fr_FR", "en": "en_GB"}


def N_(message: str) -> str:  # noqa: N802  (the gettext convention for "translate later")
    return message


# (key, msgid): the order in which they are shown. The deadline's text takes %(deadline)s.
NOTICES: tuple[tuple[str, str], ...] = (
    ("free", N_("You are free to accept or to refuse this proposal. Nobody can decide for you: the collective "
                "vote is only indicative, and a majority binds no one.")),
    ("court", N_("Whatever you decide, you keep the right to take your dispute to court.")),
    ("judge", N_("The proposed solution may differ from the decision a judge would make.")),
    ("effect", N_("If you accept it, it becomes a binding agreement between you and the company (a contract, "
                  "article 1103 of the Civil Code), which you sign online; it can be made enforceable if a "
                  "judge approves it (homologation). If you refuse it, or do not answer, nothing changes for "
                  "you and you receive a certificate of non-agreement.")),
    ("deadline", N_("You have until %(deadline)s (Paris time) to accept or refuse it, and you may change your "
                    "answer until then.")),
)


def deadline_text(decide_by: datetime, language: str) -> str:
    return format_datetime(decide_by, "d MMMM y, HH:mm", tzinfo=PARIS,
                           locale=BABEL_LOCALES.get(language, "fr_FR"))


def notice_texts(decide_by: datetime, language: str) -> list[str]:
    """The notices in one language, the deadline written out."""
    params = {"deadline": deadline_text(decide_by, language)}
    with i18n.language_of(language):
        return [i18n.gettext(msgid) % params if key == "deadline" else i18n.gettext(msgid)
                for key, msgid in NOTICES]


def recorded_notices(decide_by: datetime) -> dict[str, Any]:
    """What `Proposal.notices` keeps: the texts in every language, and the deadline they state."""
    return {"decide_by": decide_by.isoformat(), "keys": [key for key, _ in NOTICES],
            **{language: notice_texts(decide_by, language) for language in i18n.LANGUAGES}}


def shown_notices(recorded: Any, language: str, decide_by: datetime) -> list[str]:
    """The notices as recorded with a version, in the viewer's language (recomputed only if the record lacks it)."""
    if isinstance(recorded, str):  # a JSON column comes back as text on some engines
        try:
            recorded = json.loads(recorded or "{}")
        except ValueError:
            recorded = {}
    if isinstance(recorded, dict):
        texts = recorded.get(language)
        if isinstance(texts, list) and texts and all(isinstance(text, str) for text in texts):
            return texts
    return notice_texts(decide_by, language)
