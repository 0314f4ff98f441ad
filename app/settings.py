"""Settings read once from the environment; every variable is documented in the README."""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _flag(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    return raw.strip().lower() in {"1", "true", "yes", "on"}


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    return int(raw) if raw else default


def percent_to_basis_points(text: str) -> int:
    """"5" → 500, "2.5" or "2,5" → 250; refuses what is not a percentage between 0 and 100."""
    try:
        value = Decimal(text.strip().replace(",", "."))
    except InvalidOperation:
        raise ValueError(f"not a percentage: {text!r}") from None
    if not value.is_finite() or value < 0 or value > 100:
        raise ValueError(f"a percentage must lie between 0 and 100: {text!r}")
    return int((value * 100).to_integral_value(ROUND_HALF_UP))


def _secret_key(var_dir: Path) -> str:
    """SECRET_KEY from the environment, else one generated once into var/ (never committed)."""
    if key := os.environ.get("SECRET_KEY", "").strip():
        return key
    path = var_dir / "secret_key"
    if path.exists():
        return path.read_text().strip()
    var_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(key)
    return key


@dataclass(frozen=True)
class Settings:
    """What the app needs to know about where it runs."""

    var_dir: Path
    """Local state for the embedded mode: SQLite file, session files, secret key (VAR_DIR)."""
    database_url: str
    """PostgreSQL URL; empty means the embedded SQLite file under var/ (DATABASE_URL)."""
    redis_url: str
    """Redis URL for the job broker, pub/sub, sessions and rate limits; empty means embedded (REDIS_URL)."""
    redis_prefix: str
    """Prefix of every Redis key, so several deployments or test runs can share one Redis (REDIS_PREFIX)."""
    smtp_url: str
    """smtp://user:password@host:port (add ?starttls=1) or smtps://…; empty keeps mails in the outbox (SMTP_URL)."""
    mail_from: str
    """Sender address of outgoing mail (MAIL_FROM)."""
    base_url: str
    """Public address of the site, used in e-mailed links and to decide on Secure cookies and HSTS (BASE_URL)."""
    secret_key: str
    """Signs CSRF tokens and invitation links (SECRET_KEY; generated into var/ when absent)."""
    embedded_worker: bool
    """Run a Dramatiq worker inside the web process (EMBEDDED_WORKER)."""
    embedded_scheduler: bool
    """Run the scheduler inside the web process (EMBEDDED_SCHEDULER; defaults to EMBEDDED_WORKER)."""
    dev_mailbox: bool
    """Serve /dev/mailbox to local clients; on by default only when SMTP_URL is unset (DEV_MAILBOX)."""
    session_idle_minutes: int
    """A session ends after this long without a request (SESSION_IDLE_MINUTES)."""
    session_max_hours: int
    """A session ends this long after login, whatever the activity (SESSION_MAX_HOURS)."""
    login_rate_per_minute: int
    """Login, sign-up and reset attempts allowed per client address and minute (LOGIN_RATE_PER_MINUTE)."""
    max_body_kb: int
    """Largest request body accepted, in KiB, for routes without a larger limit of their own (MAX_BODY_KB)."""
    scheduler_interval_seconds: float
    """How often the scheduler sweeps due work: reminders, lost jobs, expiries (SCHEDULER_INTERVAL_SECONDS)."""
    mail_max_attempts: int
    """How many times the mail actor tries one mail before giving up (MAIL_MAX_ATTEMPTS)."""
    mail_retry_min_ms: int
    """First retry delay of the mail actor, doubled at each attempt (MAIL_RETRY_MIN_MS)."""
    fee_percent_basis_points: int = 500
    """Success fee: share of the signed amounts, as a percentage such as 5 or 2.5 (FEE_PERCENT)."""
    fee_per_agreement_cents: int = 0
    """Success fee: amount added per signed agreement, in cents (FEE_PER_AGREEMENT_CENTS)."""
    fee_minimum_cents: int = 0
    """Success fee: the least invoiced when at least one agreement is signed, in cents (FEE_MINIMUM_CENTS)."""
    access_log: bool = True
    """One JSON line per request on stderr, logger clf.access (ACCESS_LOG); uvicorn's own access log is then off."""
    metrics_token: str = ""
    """Bearer token /metrics requires; empty: /metrics answers clients on this machine only (METRICS_TOKEN)."""
    metrics_port: int = 0
    """A separate worker process (EMBEDDED_WORKER=0) serves its job metrics on this port; 0: none (METRICS_PORT)."""
    metrics_host: str = "127.0.0.1"
    """Address a worker's METRICS_PORT listens on; that endpoint has no token (METRICS_HOST)."""

    @property
    def is_https(self) -> bool:
        return urlsplit(self.base_url).scheme == "https"

    @property
    def uses_postgres(self) -> bool:
        return self.database_url.startswith(("postgres://", "postgresql://"))

    @property
    def sqlite_path(self) -> Path:
        return self.var_dir / "cessez-le-feu.sqlite3"


def load_settings() -> Settings:
    """Build the settings from the environment."""
    var_dir = Path(os.environ.get("VAR_DIR", "") or PROJECT_ROOT / "var").resolve()
    smtp_url = os.environ.get("SMTP_URL", "").strip()
    return Settings(
        var_dir=var_dir,
        database_url=os.environ.get("DATABASE_URL", "").strip(),
        redis_url=os.environ.get("REDIS_URL", "").strip(),
        redis_prefix=os.environ.get("REDIS_PREFIX", "").strip() or "clf",
        smtp_url=smtp_url,
        mail_from=os.environ.get("MAIL_FROM", "").strip() or "Cessez-le-feu <no-reply@cessez-le-feu.local>",
        base_url=(os.environ.get("BASE_URL", "").strip() or "http://127.0.0.1:8000").rstrip("/"),
        secret_key=_secret_key(var_dir),
        embedded_worker=_flag("EMBEDDED_WORKER", True),
        embedded_scheduler=_flag("EMBEDDED_SCHEDULER", _flag("EMBEDDED_WORKER", True)),
        dev_mailbox=_flag("DEV_MAILBOX", not smtp_url),
        session_idle_minutes=_int("SESSION_IDLE_MINUTES", 60),
        session_max_hours=_int("SESSION_MAX_HOURS", 12),
        login_rate_per_minute=_int("LOGIN_RATE_PER_MINUTE", 10),
        max_body_kb=_int("MAX_BODY_KB", 1024),
        scheduler_interval_seconds=float(os.environ.get("SCHEDULER_INTERVAL_SECONDS", "").strip() or 60),
        mail_max_attempts=_int("MAIL_MAX_ATTEMPTS", 6),
        mail_retry_min_ms=_int("MAIL_RETRY_MIN_MS", 15_000),
        fee_percent_basis_points=percent_to_basis_points(os.environ.get("FEE_PERCENT", "").strip() or "5"),
        fee_per_agreement_cents=_int("FEE_PER_AGREEMENT_CENTS", 0),
        fee_minimum_cents=_int("FEE_MINIMUM_CENTS", 0),
        access_log=_flag("ACCESS_LOG", True),
        metrics_token=os.environ.get("METRICS_TOKEN", "").strip(),
        metrics_port=_int("METRICS_PORT", 0),
        metrics_host=os.environ.get("METRICS_HOST", "").strip() or "127.0.0.1",
    )


MIN_SECRET_KEY_LENGTH = 32


def missing_essentials(environ: Mapping[str, str]) -> list[tuple[str, str]]:
    """What a production start cannot run without, as (variable, what to set) pairs; empty when all is there."""
    missing = []
    if len(environ.get("SECRET_KEY", "").strip()) < MIN_SECRET_KEY_LENGTH:
        missing.append(("SECRET_KEY", f"a random string of at least {MIN_SECRET_KEY_LENGTH} characters, the same on "
                                      "every process (python3 -c 'import secrets; print(secrets.token_urlsafe(48))')"))
    base_url = environ.get("BASE_URL", "").strip()
    if urlsplit(base_url).scheme not in {"http", "https"} or not urlsplit(base_url).hostname:
        missing.append(("BASE_URL", "the public address people use, e.g. https://mediation.example.org"))
    return missing


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read on first use."""
    return load_settings()


def settings_of(connection: Any) -> Settings:
    """The settings of the app serving this request (tests build apps with their own)."""
    settings: Settings = connection.app.state.settings
    return settings
