"""Fixtures and factories shared by the tests."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from app.actions.accounts import do_create_user
from app.asgi import create_app
from app.cli import migrate
from app.settings import Settings, get_settings
from app.tables import OutboxMail, Role, User

PASSWORD = "a quiet river at dawn"


@pytest.fixture(scope="session", autouse=True)
async def database() -> None:
    """The run's database, migrated once."""
    await migrate()


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


@pytest.fixture
async def account() -> Account:
    return await make_account()


def build_app(**overrides: Any) -> Litestar:
    settings = get_settings()
    if overrides:
        settings = Settings(**{**settings.__dict__, **overrides})
    return create_app(settings)


@pytest.fixture
async def client() -> AsyncIterator[AsyncTestClient[Litestar]]:
    async with AsyncTestClient(app=build_app(), base_url="http://testserver.local") as test_client:
        yield test_client


async def csrf_token(client: AsyncTestClient[Litestar]) -> str:
    """The CSRF token a browser would have after loading any page."""
    if "csrftoken" not in client.cookies:
        response = await client.get("/")
        assert response.status_code == 200
    return client.cookies["csrftoken"]


async def post_form(client: AsyncTestClient[Litestar], path: str, data: dict[str, str], **kwargs: Any) -> Any:
    """POST a form the way the page's own form does, CSRF token included."""
    return await client.post(path, data={**data, "_csrf_token": await csrf_token(client)}, **kwargs)


async def login(client: AsyncTestClient[Litestar], email: str, password: str = PASSWORD) -> Any:
    response = await post_form(client, "/login", {"email": email, "password": password})
    assert response.status_code in (200, 303), response.text
    return response


async def mails_to(address: str) -> list[OutboxMail]:
    return await OutboxMail.objects().where(OutboxMail.to_address == address).order_by(OutboxMail.id)


def link_in(mail: OutboxMail, marker: str) -> str:
    """The path of the first link in a mail that contains `marker` (e.g. "/verify/")."""
    for word in mail.body_text.split():
        if marker in word:
            return word.split("testserver.local", 1)[-1]
    raise AssertionError(f"no {marker} link in: {mail.body_text}")
