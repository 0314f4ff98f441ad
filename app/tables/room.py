"""The mediation room: spaces per case, their messages, and what each participant has read or accepted."""

from piccolo.columns import ForeignKey, Integer, Serial, Text, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from app.tables.accounts import User
from app.tables.cases import Case


class Space(Table):
    """One conversation of a case: plenary, consumers' caucus, company caucus, or mediator ↔ one participant."""

    id: Serial  # added by Piccolo (primary key); declared for type checkers only

    case = ForeignKey(references=Case, index=True)
    kind = Varchar(length=12)  # plenary, consumers, company, direct
    participant = ForeignKey(references=User, null=True)  # the other side of a "direct" space
    key = Varchar(length=40, unique=True)  # f"{case}:{kind}:{participant or 0}", one space each
    last_seq = Integer(default=0)  # the per-space message counter (the SSE event id)
    created_at = Timestamptz(default=TimestamptzNow())


class Message(Table):
    """A message, committed before it is announced; `seq` increases per space (unique with it)."""

    id: Serial  # added by Piccolo (primary key); declared for type checkers only

    space = ForeignKey(references=Space, index=True)
    seq = Integer()
    author = ForeignKey(references=User)
    body = Text()
    client_key = Varchar(length=40, default="")  # from the form: a resubmission is recognised, not stored twice
    created_at = Timestamptz(default=TimestamptzNow())
    hidden_at = Timestamptz(null=True, default=None)
    hidden_by = ForeignKey(references=User, null=True)
    hidden_reason = Text(default="")


class MessageAttachment(Table):
    """A file attached to a message, under the evidence rules (checked content, stored outside static)."""

    id: Serial  # added by Piccolo (primary key); declared for type checkers only

    message = ForeignKey(references=Message, index=True)
    original_name = Varchar(length=120)
    stored_name = Varchar(length=64, unique=True)
    content_type = Varchar(length=40)
    size_bytes = Integer()
    sha256 = Varchar(length=64)


class CharterAcceptance(Table):
    """The confidentiality charter (L612-3), accepted once per case and participant, with its time."""

    id: Serial  # added by Piccolo (primary key); declared for type checkers only

    case = ForeignKey(references=Case, index=True)
    user = ForeignKey(references=User)
    accepted_at = Timestamptz(default=TimestamptzNow())


class SpaceRead(Table):
    """How far a participant has read a space, and where their previous visit ended (the "new" marker)."""

    id: Serial  # added by Piccolo (primary key); declared for type checkers only

    space = ForeignKey(references=Space, index=True)
    user = ForeignKey(references=User)
    read_seq = Integer(default=0)
    previous_visit_seq = Integer(default=0)
    updated_at = Timestamptz(default=TimestamptzNow())


class Pseudonym(Table):
    """How a consumer appears to other consumers of a case: stable, unique within the case."""

    id: Serial  # added by Piccolo (primary key); declared for type checkers only

    case = ForeignKey(references=Case, index=True)
    user = ForeignKey(references=User)
    name = Varchar(length=40)


class Mute(Table):
    """The mediator silences a participant of a case until a time."""

    id: Serial  # added by Piccolo (primary key); declared for type checkers only

    case = ForeignKey(references=Case, index=True)
    user = ForeignKey(references=User)
    until = Timestamptz()
    reason = Text(default="")
    muted_by = ForeignKey(references=User, null=True)
    created_at = Timestamptz(default=TimestamptzNow())


class MessageReport(Table):
    """A participant reports a message to the mediator."""

    id: Serial  # added by Piccolo (primary key); declared for type checkers only

    message = ForeignKey(references=Message, index=True)
    reporter = ForeignKey(references=User)
    reason = Text(default="")
    created_at = Timestamptz(default=TimestamptzNow())
    handled_at = Timestamptz(null=True, default=None)
