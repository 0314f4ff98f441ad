"""Account actions: sign-up, e-mail verification, login, password reset and change."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from app.actions.mail import do_queue_mail
from app.domain.accounts import (
    FormErrors,
    check_display_name,
    check_password,
    clean_display_name,
    normalize_email,
)
from app.i18n import _
from app.platform.db import write_transaction
from app.platform.passwords import hash_password, needs_rehash, verify_password
from app.tables import AccountToken, Role, TokenPurpose, User, WebSession

TOKEN_LIFETIMES = {
    TokenPurpose.verify_email: timedelta(days=3),
    TokenPurpose.reset_password: timedelta(hours=1),
}


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def _issue_token(user_id: int, purpose: TokenPurpose) -> str:
    token = secrets.token_urlsafe(32)
    await AccountToken.insert(
        AccountToken(user=user_id, purpose=purpose.value, token_hash=_digest(token),
                     expires_at=datetime.now(UTC) + TOKEN_LIFETIMES[purpose])
    )
    return token


def _plausible_token(token: str) -> bool:
    return 20 <= len(token) <= 128 and token.isascii()


async def _find_live_token(token: str, purpose: TokenPurpose) -> AccountToken | None:
    if not _plausible_token(token):
        return None
    return await AccountToken.objects().where(
        AccountToken.token_hash == _digest(token),
        AccountToken.purpose == purpose.value,
        AccountToken.used_at.is_null(),
        AccountToken.expires_at > datetime.now(UTC),
    ).first()


async def _spend_token(token: str, purpose: TokenPurpose) -> int | None:
    """Mark a live token used, atomically; returns its user id, or None when invalid, used or expired."""
    if not _plausible_token(token):
        return None
    now = datetime.now(UTC)
    rows = await AccountToken.update({AccountToken.used_at: now}).where(
        AccountToken.token_hash == _digest(token),
        AccountToken.purpose == purpose.value,
        AccountToken.used_at.is_null(),
        AccountToken.expires_at > now,
    ).returning(AccountToken.user)
    return rows[0]["user"] if rows else None


async def _send_verification(user: User) -> None:
    token = await _issue_token(user.id, TokenPurpose.verify_email)
    await do_queue_mail(to=user.email, template="mail/verify_email.txt", language=user.locale,
                        name=user.display_name, token=token)


@dataclass
class SignupForm:
    email: str
    display_name: str
    password: str
    password_confirm: str


def check_signup(form: SignupForm) -> tuple[FormErrors, str, str]:
    """Validate a sign-up form; returns the errors and the cleaned e-mail and name."""
    errors = FormErrors()
    email = normalize_email(form.email)
    if email is None:
        errors.add("email", _("Please enter a valid e-mail address."))
    name = clean_display_name(form.display_name)
    check_display_name(name, errors)
    check_password(form.password, form.password_confirm, errors, email=email or "", name=name)
    return errors, email or "", name


async def do_signup(form: SignupForm, *, language: str, role: Role = Role.consumer) -> FormErrors:
    """Create a consumer account and mail its verification link.

    An address already registered gets a mail saying so, and the visitor the same answer as for a new
    one, so the form never tells whether an address has an account.
    """
    errors, email, name = check_signup(form)
    if errors:
        return errors
    existing = await User.objects().where(User.email == email).first()
    if existing is not None:
        await _notify_existing_account(existing)
        return errors
    password_hash = await hash_password(form.password)
    async with write_transaction():
        if await User.exists().where(User.email == email):
            existing = await User.objects().where(User.email == email).first()
        else:
            user = User(email=email, display_name=name, password_hash=password_hash, role=role.value,
                        locale=language)
            await user.save()
    if existing is not None:
        await _notify_existing_account(existing)
        return errors
    await _send_verification(user)
    return errors


async def _notify_existing_account(user: User) -> None:
    if user.email_verified_at is None:
        await _send_verification(user)
    else:
        await do_queue_mail(to=user.email, template="mail/already_registered.txt", language=user.locale,
                            name=user.display_name)


async def do_verify_email(token: str) -> User | None:
    """Spend a verification token; the account's address is then confirmed."""
    user_id = await _spend_token(token, TokenPurpose.verify_email)
    if user_id is None:
        return None
    await User.update({User.email_verified_at: datetime.now(UTC)}).where(
        User.id == user_id, User.email_verified_at.is_null()
    )
    return await User.objects().where(User.id == user_id).first()


@dataclass
class LoginResult:
    user: User | None
    unverified: bool = False


async def do_authenticate(email_input: str, password: str) -> LoginResult:
    """Check credentials. Unknown address and wrong password give the same result in the same time."""
    email = normalize_email(email_input)
    user = await User.objects().where(User.email == email, User.is_active.eq(True)).first() if email else None
    valid = await verify_password(user.password_hash if user else None, password[:1024])
    if user is None or not valid:
        return LoginResult(user=None)
    if needs_rehash(user.password_hash):
        await User.update({User.password_hash: await hash_password(password)}).where(User.id == user.id)
    if user.email_verified_at is None:
        await _send_verification(user)
        return LoginResult(user=None, unverified=True)
    return LoginResult(user=user)


async def do_request_password_reset(email_input: str) -> None:
    """Mail a reset link when the address has an account; the visitor sees the same answer either way."""
    email = normalize_email(email_input)
    if email is None:
        return
    user = await User.objects().where(User.email == email, User.is_active.eq(True)).first()
    if user is None:
        return
    token = await _issue_token(user.id, TokenPurpose.reset_password)
    await do_queue_mail(to=user.email, template="mail/reset_password.txt", language=user.locale,
                        name=user.display_name, token=token)


async def check_reset_token(token: str) -> User | None:
    """The user a reset token is for, while it is live (looking does not spend it)."""
    found = await _find_live_token(token, TokenPurpose.reset_password)
    if found is None:
        return None
    return await User.objects().where(User.id == found.user, User.is_active.eq(True)).first()


async def _set_password(user: User, password: str) -> User:
    """New hash and a new session version, which ends every other session of this user."""
    password_hash = await hash_password(password)
    rows = await User.update(
        {User.password_hash: password_hash, User.session_version: User.session_version + 1}
    ).where(User.id == user.id).returning(User.session_version)
    user.password_hash = password_hash
    user.session_version = rows[0]["session_version"]
    return user


async def do_reset_password(token: str, password: str, confirmation: str) -> tuple[FormErrors, User | None]:
    """Set a new password with a reset token, which is spent only when the new password is accepted."""
    errors = FormErrors()
    user = await check_reset_token(token)
    if user is None:
        errors.add("token", _("This link is invalid or has expired. Please ask for a new one."))
        return errors, None
    check_password(password, confirmation, errors, email=user.email, name=user.display_name)
    if errors:
        return errors, None
    async with write_transaction():
        if await _spend_token(token, TokenPurpose.reset_password) != user.id:
            errors.add("token", _("This link is invalid or has expired. Please ask for a new one."))
            return errors, None
        user = await _set_password(user, password)
        if user.email_verified_at is None:  # the reset link proved the address
            await User.update({User.email_verified_at: datetime.now(UTC)}).where(User.id == user.id)
    await do_queue_mail(to=user.email, template="mail/password_changed.txt", language=user.locale,
                        name=user.display_name)
    return errors, user


async def do_change_password(user: User, current: str, password: str, confirmation: str) -> FormErrors:
    """Change one's password (current one required) and tell the account's address."""
    errors = FormErrors()
    if not await verify_password(user.password_hash, current[:1024]):
        errors.add("current_password", _("The current password is not correct."))
        return errors
    check_password(password, confirmation, errors, email=user.email, name=user.display_name)
    if password == current and not errors:
        errors.add("password", _("The new password must differ from the current one."))
    if errors:
        return errors
    await _set_password(user, password)
    await do_queue_mail(to=user.email, template="mail/password_changed.txt", language=user.locale,
                        name=user.display_name)
    return errors


async def do_set_language(user: User | None, language: str) -> None:
    if user is not None:
        await User.update({User.locale: language}).where(User.id == user.id)


async def do_create_user(*, email: str, display_name: str, password: str, role: Role, language: str = "fr",
                         verified: bool = True) -> tuple[FormErrors, User | None]:
    """Create an account directly (CLI: staff and mediators; the demo seed). Existing address: an error."""
    errors = FormErrors()
    clean_email = normalize_email(email)
    if clean_email is None:
        errors.add("email", _("Please enter a valid e-mail address."))
    name = clean_display_name(display_name)
    check_display_name(name, errors)
    check_password(password, None, errors, email=clean_email or "", name=name)
    if errors:
        return errors, None
    if await User.exists().where(User.email == clean_email):
        errors.add("email", _("An account with this e-mail address already exists."))
        return errors, None
    user = User(email=clean_email, display_name=name, password_hash=await hash_password(password), role=role.value,
                locale=language, email_verified_at=datetime.now(UTC) if verified else None)
    await user.save()
    return errors, user


async def active_session_versions(user_ids: Iterable[int]) -> dict[int, int]:
    """The session version of each of these users who is still active: a session made under another version (the
    password changed or was reset since), or of a deactivated user, is over (as app.http.auth.current_user decides)."""
    unique = sorted(set(user_ids))
    versions: dict[int, int] = {}
    for start in range(0, len(unique), 500):
        for row in await User.select(User.id, User.session_version).where(
                User.id.is_in(unique[start:start + 500]), User.is_active.eq(True)):
            versions[row["id"]] = row["session_version"]
    return versions


async def do_forget_expired_sessions() -> int:
    """Delete the web sessions whose time is up (the scheduler, every sweep); returns how many."""
    gone = await WebSession.delete().where(WebSession.expires_at <= datetime.now(UTC)).returning(WebSession.id)
    return len(gone)
