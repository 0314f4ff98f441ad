"""Fixtures and HTTP helpers shared by the tests (the factories are in `tests.factories`)."""

from __future__ import annotations

import contextlib
import html
from collections.abc import AsyncIterator
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from app.asgi import create_app
from app.cli import migrate
from app.settings import Settings, get_settings
from app.tables import OutboxMail
from tests.factories.accounts import PASSWORD, Account, make_account


@pytest.fixture(scope="session", autouse=True)
async def database() -> None:
    """The run's database, migrated once."""
    await migrate()


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


@contextlib.asynccontextmanager
async def logged_in(account: Account, *, language: str = "en") -> AsyncIterator[AsyncTestClient[Litestar]]:
    """A browser of its own for this account, logged in, in English unless told otherwise."""
    async with AsyncTestClient(app=build_app(), base_url="http://testserver.local") as browser:
        browser.cookies.set("lang", language)
        await login(browser, account.email)
        yield browser


class Browsers:
    """Several browsers (each with its own cookies) on one running app.

    The first browser runs the app's lifespan; the others share its event-loop portal, so they all use the
    one database pool and Redis client (a pool per app soon exhausts PostgreSQL's connections).
    """

    def __init__(self) -> None:
        self._app = build_app()
        self._host: AsyncTestClient[Litestar] | None = None

    async def as_(self, account: Account | None, *, language: str = "en") -> AsyncTestClient[Litestar]:
        client: AsyncTestClient[Litestar] = AsyncTestClient(app=self._app, base_url="http://testserver.local")
        if self._host is None:
            self._host = await client.__aenter__()
        else:
            client.blocking_portal = self._host.blocking_portal
        client.cookies.set("lang", language)
        if account is not None:
            await login(client, account.email)
        return client

    async def close(self) -> None:
        if self._host is not None:
            await self._host.__aexit__(None, None, None)


@pytest.fixture
async def browsers() -> AsyncIterator[Browsers]:
    """Browsers on one running app, closed after the test."""
    opened = Browsers()
    yield opened
    await opened.close()


HTMX = {"HX-Request": "true"}


def is_fragment(html: str, element_id: str) -> bool:
    """An HTMX region answer: the element, and not a whole page."""
    return "<html" not in html and f'id="{element_id}"' in html


def visible(response: Any) -> str:
    """The response's HTML with entities decoded, for assertions on the text people read."""
    return html.unescape(response.text)


async def mails_to(address: str) -> list[OutboxMail]:
    return await OutboxMail.objects().where(OutboxMail.to_address == address).order_by(OutboxMail.id)


def link_in(mail: OutboxMail, marker: str) -> str:
    """The path of the first link in a mail that contains `marker` (e.g. "/verify/")."""
    for word in mail.body_text.split():
        if marker in word:
            return word.split("testserver.local", 1)[-1]
    raise AssertionError(f"no {marker} link in: {mail.body_text}")
