"""The local mailbox (/dev/mailbox): held mails readable from this machine only, bodies escaped, links live."""

from __future__ import annotations

import re
import secrets

import httpx
import pytest
from litestar.testing import AsyncTestClient

from app.actions.mail import do_queue_mail
from app.settings import get_settings
from app.tables import MailStatus, OutboxMail
from tests.factories import unique_email
from tests.fixtures import build_app

BASE_URL = "http://testserver.local"
HOSTILE_NAME = '<script>alert(1)</script> <a href="javascript:alert(2)">Eve</a>'


async def queue_verification(to: str, name: str = "Noé Petit") -> tuple[int, str]:
    """A held verification mail (no SMTP in tests), as sign-up writes it; returns its id and its link."""
    assert get_settings().smtp_url == ""
    token = secrets.token_urlsafe(24)
    mail_id = await do_queue_mail(to=to, template="mail/verify_email.txt", language="fr", name=name, token=token)
    return mail_id, f"{BASE_URL}/verify/{token}"


def mail_body(html: str) -> str:
    match = re.search(r'<div class="mail-body">(.*?)</div>', html, re.DOTALL)
    assert match, html
    return match.group(1)


async def test_the_mailbox_lists_held_mails(client) -> None:
    address = unique_email("mailbox")
    mail_id, _ = await queue_verification(address)
    stored = await OutboxMail.objects().where(OutboxMail.id == mail_id).first()
    assert stored is not None and stored.status == MailStatus.held.value

    response = await client.get("/dev/mailbox")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert f'<a href="/dev/mailbox/{mail_id}"><strong>Confirmez votre adresse e-mail pour Cessez-le-feu</strong></a>' \
        in response.text
    assert address in response.text and "held" in response.text
    assert "Boîte aux lettres locale" in response.text or "Local mailbox" in response.text


async def test_a_mail_shows_its_links_clickable(client) -> None:
    mail_id, link = await queue_verification(unique_email("links"), name="Noé Petit")

    response = await client.get(f"/dev/mailbox/{mail_id}")

    assert response.status_code == 200
    assert "<h1>Confirmez votre adresse e-mail pour Cessez-le-feu</h1>" in response.text
    body = mail_body(response.text)
    assert "Bonjour Noé Petit," in body
    assert re.findall(r'href="([^"]*)"', body) == [link]
    assert f'<a href="{link}" rel="nofollow noopener noreferrer">{link}</a>' in body


async def test_html_in_a_mail_is_escaped(client) -> None:
    hostile_address = f"<script>alert(3)</script>{unique_email('hostile')}"
    mail_id, link = await queue_verification(hostile_address, name=HOSTILE_NAME)

    shown = await client.get(f"/dev/mailbox/{mail_id}")
    assert shown.status_code == 200
    body = mail_body(shown.text)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body
    assert "<script>" not in shown.text
    assert "javascript:" not in re.sub(r"&[a-z#0-9]+;", "", "".join(re.findall(r'href="([^"]*)"', shown.text)))
    assert re.findall(r'href="([^"]*)"', body) == [link]  # the only link is the real one
    assert "&lt;script&gt;alert(3)&lt;/script&gt;" in shown.text  # the address, on the mail's page

    listed = await client.get("/dev/mailbox")
    assert listed.status_code == 200
    assert "&lt;script&gt;alert(3)&lt;/script&gt;" in listed.text and "<script>" not in listed.text


async def test_a_missing_or_malformed_mail_id_is_a_404_never_a_500(client) -> None:
    mail_id, _ = await queue_verification(unique_email("missing"))
    absent = await client.get(f"/dev/mailbox/{mail_id + 1_000_000}")
    assert absent.status_code == 404
    for path in ("/dev/mailbox/abc", "/dev/mailbox/1.5", "/dev/mailbox/-1", "/dev/mailbox/0", "/dev/mailbox/%20",
                 "/dev/mailbox/1;DROP", "/dev/mailbox/0x10", "/dev/mailbox/2147483647"):
        response = await client.get(path)
        assert response.status_code in (400, 404), (path, response.status_code)


@pytest.mark.parametrize("mail_id", [
    "2147483648",  # just past PostgreSQL's 32-bit serial
    "9223372036854775808",  # past SQLite's 64-bit integer
    "99999999999999999999999",
])
async def test_an_id_beyond_the_column_range_is_not_a_500(client, mail_id: str) -> None:
    response = await client.get(f"/dev/mailbox/{mail_id}")
    assert response.status_code in (400, 404)


async def test_the_mailbox_is_off_when_disabled() -> None:
    mail_id, _ = await queue_verification(unique_email("disabled"))
    async with AsyncTestClient(app=build_app(dev_mailbox=False), base_url=BASE_URL) as client:
        for path in ("/dev/mailbox", "/dev/mailbox/", f"/dev/mailbox/{mail_id}"):
            response = await client.get(path)
            assert response.status_code == 404, path
            assert "Confirmez votre adresse" not in response.text
    # The same request on an app with the mailbox on succeeds: the 404 above is the switch, not the path
    async with AsyncTestClient(app=build_app(dev_mailbox=True), base_url=BASE_URL) as client:
        assert (await client.get(f"/dev/mailbox/{mail_id}")).status_code == 200


@pytest.mark.parametrize(("client_host", "status"), [
    ("203.0.113.7", 404), ("192.168.1.20", 404), ("127.0.0.1", 200), ("::1", 200),
])
async def test_only_local_clients_see_the_mailbox(client_host: str, status: int) -> None:
    mail_id, _ = await queue_verification(unique_email("remote"))
    transport = httpx.ASGITransport(app=build_app(dev_mailbox=True), client=(client_host, 40_000))
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
        for path in ("/dev/mailbox", f"/dev/mailbox/{mail_id}"):
            response = await client.get(path)
            assert response.status_code == status, (client_host, path)
