"""Accounts: a user of any role, created through the real action, with the password the tests log in with."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from app.actions.accounts import do_create_user
from app.tables import Role, User

PASSWORD = "a quiet river at dawn"


def unique_email(prefix: str = "user") -> str:
    return f"{prefix}-{secrets.token_hex(5)}@example.org"


@dataclass
class Account:
    user: User
    email: str
    password: str


async def make_account(role: Role = Role.consumer, *, verified: bool = True, name: str = "Alex Test") -> Account:
    email = unique_email(role.value)
    errors, user = await do_create_user(email=email, display_name=name, password=PASSWORD, role=role,
                                        verified=verified)
    assert not errors and user is not None, errors.fields
    return Account(user=user, email=email, password=PASSWORD)
