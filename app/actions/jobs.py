"""Jobs are enqueued by their actor's name: the workers import the actions they run, so the actions cannot import
the workers back (that would close an import cycle)."""

from __future__ import annotations

import importlib
from typing import Any

import dramatiq

# Declares every actor on the project's broker (workers.broker); a `dramatiq workers.actors` process, the embedded
# worker and the scheduler import it at start, a process that only enqueues imports it here the first time.
ACTORS = "workers.actors"


def actor(name: str) -> dramatiq.Actor[..., Any]:
    """The actor declared under this name (`deliver_mail`, `send_reminder`, `finalize_proposal`)."""
    importlib.import_module(ACTORS)
    return dramatiq.get_broker().get_actor(name)
