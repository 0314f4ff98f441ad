"""Companies on the mediation side: staff verify them and invite their representatives, who join through
a mailed single-use link (logged in as a company representative, or signing up from the link's page)."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from app.actions.accounts import SignupForm, check_signup, do_create_user, do_signup
from app.actions.base import like_pattern, record
from app.actions.errors import NotFound, Refused
from app.actions.mail import do_queue_mail
from app.domain.accounts import FormErrors, normalize_email
from app.domain.deadlines import COMPANY_INVITE_DAYS
from app.i18n import _
from app.platform.db import write_transaction
from app.tables import Case, Company, CompanyInvite, CompanyMember, Role, User


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def plausible_token(token: str) -> bool:
    return 20 <= len(token) <= 128 and token.isascii() and all(c.isalnum() or c in "-_" for c in token)


async def mail_language(address: str) -> str:
    """Write to an address in its account's language when it has one, else in French."""
    row = await User.select(User.locale).where(User.email == address).first()
    return row["locale"] if row else "fr"


# --- staff -----------------------------------------------------------------------------------------


def require_staff(actor: User) -> None:
    if actor.role != Role.staff:
        raise NotFound()


async def company_or_404(company_id: int) -> Company:
    company = await Company.objects().where(Company.id == company_id).first()
    if company is None:
        raise NotFound()
    return company


async def find_company(company_id: int | None) -> Company | None:
    """The company with this id; None when there is none, or no id (an optional filter or form field)."""
    if not company_id:
        return None
    return await Company.objects().where(Company.id == company_id).first()


async def do_verify_company(actor: User, company_id: int) -> Company:
    """Staff checked who the company is (SIREN, website, contact address)."""
    require_staff(actor)
    company = await company_or_404(company_id)
    if company.verified_at is not None:
        raise Refused(_("This company is already verified."), 409)
    now = datetime.now(UTC)
    async with write_transaction():
        changed = await Company.update({Company.verified_at: now}).where(
            Company.id == company_id, Company.verified_at.is_null()).returning(Company.id)
        if not changed:
            raise Refused(_("This company is already verified."), 409)
        await record(None, actor.id, "company_verified", company_id=company_id)
    company.verified_at = now
    return company


async def do_invite_representative(actor: User, company_id: int, email_input: str) -> FormErrors:
    """Mail a single-use link by which someone joins the company as its representative."""
    require_staff(actor)
    company = await company_or_404(company_id)
    errors = FormErrors()
    email = normalize_email(email_input)
    if email is None:
        errors.add("email", _("Please enter a valid e-mail address."))
        return errors
    existing = await User.select(User.role).where(User.email == email).first()
    if existing is not None and existing["role"] != Role.company.value:
        errors.add("email", _("This address belongs to an account that is not a company representative's."))
        return errors
    token = secrets.token_urlsafe(32)
    language = await mail_language(email)
    async with write_transaction():
        await CompanyInvite.insert(CompanyInvite(
            company=company_id, email=email, token_hash=token_digest(token), created_by=actor.id,
            expires_at=datetime.now(UTC) + timedelta(days=COMPANY_INVITE_DAYS)))
        await record(None, actor.id, "company_invite_created", company_id=company_id, email=email)
        await do_queue_mail(to=email, template="companies/invite_mail.txt", language=language,
                            company=company.name, token=token)
    return errors


# --- joining ---------------------------------------------------------------------------------------


@dataclass
class LiveInvite:
    invite: CompanyInvite
    company: Company


async def check_company_invite(token: str) -> LiveInvite | None:
    """The invite a link stands for while it is unused and unexpired (looking does not spend it)."""
    if not plausible_token(token):
        return None
    invite = await CompanyInvite.objects().where(
        CompanyInvite.token_hash == token_digest(token), CompanyInvite.used_at.is_null(),
        CompanyInvite.expires_at > datetime.now(UTC)).first()
    if invite is None:
        return None
    company = await Company.objects().where(Company.id == invite.company).first()
    return LiveInvite(invite, company) if company else None


def require_representative(user: User) -> None:
    if user.role != Role.company:
        raise Refused(_("Only a company representative's account can join a company. A consumer account "
                        "cannot: log out and create a representative account with your work address."), 403)


async def add_member(company_id: int, user: User, *, via: str) -> bool:
    """Make a company representative a member (inside the caller's transaction); False if already one."""
    require_representative(user)
    if await CompanyMember.exists().where(CompanyMember.company == company_id, CompanyMember.user == user.id):
        return False
    await CompanyMember.insert(CompanyMember(company=company_id, user=user.id)).on_conflict(action="DO NOTHING")
    await record(None, user.id, "company_member_joined", company_id=company_id, via=via)
    return True


async def do_join_company(user: User, token: str) -> Company:
    """Spend the invite and make `user` a representative of its company."""
    require_representative(user)
    live = await check_company_invite(token)
    if live is None:
        raise Refused(_("This invitation link is invalid, has expired or has already been used."), 400)
    async with write_transaction():
        spent = await CompanyInvite.update({CompanyInvite.used_at: datetime.now(UTC), CompanyInvite.used_by: user.id}
                                           ).where(CompanyInvite.id == live.invite.id, CompanyInvite.used_at.is_null(),
                                                   CompanyInvite.expires_at > datetime.now(UTC)
                                                   ).returning(CompanyInvite.id)
        if not spent:
            raise Refused(_("This invitation link is invalid, has expired or has already been used."), 400)
        await add_member(live.company.id, user, via="invite")
    return live.company


@dataclass
class RepresentativeSignup:
    errors: FormErrors
    user: User | None = None  # created, verified, may be logged in at once (the link proved the address)
    mailed: bool = False  # a confirmation mail was sent instead


async def do_signup_representative(form: SignupForm, *, invite_email: str, language: str) -> RepresentativeSignup:
    """Create a company representative's account from an invitation page.

    With the invitation's own address, the link proves it: the account is verified at once. With another
    address, the usual sign-up runs (confirmation mail; an address already registered gets a mail saying
    so and the visitor the same answer), and the person comes back to the link after logging in.
    """
    errors, email, _name = check_signup(form)
    if errors:
        return RepresentativeSignup(errors)
    if email == normalize_email(invite_email):
        if await User.exists().where(User.email == email):
            errors.add("email", _("An account with this e-mail address already exists: please log in to continue."))
            return RepresentativeSignup(errors)
        errors, user = await do_create_user(email=email, display_name=form.display_name, password=form.password,
                                            role=Role.company, language=language, verified=True)
        return RepresentativeSignup(errors, user=user)
    errors = await do_signup(form, language=language, role=Role.company)
    return RepresentativeSignup(errors, mailed=not errors)


# --- the company's own pages -------------------------------------------------------------------------


async def companies_of(user: User) -> list[Company]:
    if user.role != Role.company:
        return []
    rows = await CompanyMember.select(CompanyMember.company).where(CompanyMember.user == user.id)
    ids = [row["company"] for row in rows]
    if not ids:
        return []
    return await Company.objects().where(Company.id.is_in(ids)).order_by(Company.name)


async def company_cases(company_id: int) -> list[Case]:
    return await Case.objects().where(Case.company == company_id).order_by(Case.id, ascending=False).limit(100)


async def company_members(company_id: int) -> list[dict[str, object]]:
    return await CompanyMember.select(
        CompanyMember.user.display_name.as_alias("name"), CompanyMember.user.email.as_alias("email"),
        CompanyMember.joined_at).where(CompanyMember.company == company_id).order_by(CompanyMember.id)


async def company_invites(company_id: int) -> list[dict[str, object]]:
    return await CompanyInvite.select(CompanyInvite.email, CompanyInvite.created_at, CompanyInvite.expires_at,
                                      CompanyInvite.used_at).where(CompanyInvite.company == company_id).order_by(
        CompanyInvite.id, ascending=False).limit(20)


async def list_companies_for_staff(*, unverified_only: bool, name: str, limit: int = 100) -> list[Company]:
    query = Company.objects().order_by(Company.id, ascending=False).limit(limit)
    if unverified_only:
        query = query.where(Company.verified_at.is_null())
    if name:
        query = query.where(Company.name.ilike(like_pattern(name)))
    return await query
