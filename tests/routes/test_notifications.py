"""The notification centre through the real routes: list, open, mark all read, badge, e-mail preference, access."""

from __future__ import annotations

import json
import re
import time
from datetime import UTC, datetime, timedelta

from app.actions.notifications import do_notify, unread_count
from app.asgi import make_stores
from app.settings import get_settings
from app.tables import AuditEvent, Notification, Role, User
from tests.factories import Account, make_account
from tests.fixtures import login, post_form

HTMX = {"HX-Request": "true"}
SESSION_COOKIE = "clf_session"


async def notify(account: Account, title: str, link: str = "", **options) -> int:
    """One notification for `account` (msgids without a French translation stay English); returns its id."""
    await do_notify([account.user.id], kind="test", title=title, link=link, **options)
    row = await Notification.select(Notification.id).where(Notification.user == account.user.id).order_by(
        Notification.id, ascending=False).first()
    return int(row["id"])


async def logged_in(client, account: Account) -> None:
    client.cookies.set("lang", "en")
    await login(client, account.email)


def badge_count(html: str) -> str | None:
    """The number shown in the header's badge, None when there is none."""
    match = re.search(r'<span class="badge" aria-hidden="true">([^<]+)</span>', html)
    return match.group(1) if match else None


def titles_in(html: str) -> list[str]:
    return re.findall(r'<p class="notification-title" id="notification-\d+">([^<]*)</p>', html)


async def test_the_centre_lists_ones_own_notifications_newest_first_with_the_unread_badge(client) -> None:
    # Given a consumer with two notifications, the older one already read, and another user's notification
    alice, bob = await make_account(), await make_account()
    older = await notify(alice, "Your case was published", link="/cases/7")
    await notify(alice, "The company accepted the mediation", link="/cases/7", body="See https://example.org/x")
    await notify(bob, "Bob's private news")
    await Notification.update({Notification.read_at: datetime.now(UTC)}).where(Notification.id == older)
    await logged_in(client, alice)

    # When she opens the notification centre
    response = await client.get("/notifications")

    # Then she sees hers only, newest first, the unread one highlighted, and the badge counts one
    assert response.status_code == 200
    assert titles_in(response.text) == ["The company accepted the mediation", "Your case was published"]
    assert "Bob&#39;s private news" not in response.text and "Bob's private news" not in response.text
    assert response.text.count('class="notification unread"') == 1
    assert badge_count(response.text) == "1" and "(1 unread)" in response.text
    assert 'href="https://example.org/x"' in response.text  # the body's URL is a link
    # The read one links straight to its page; the unread one is opened through a form that marks it read
    assert '<a class="button" href="/cases/7"' in response.text
    assert 'action="/notifications/' in response.text and "Mark all as read" in response.text
    # The badge is in the header of every page
    account_page = await client.get("/account")
    assert badge_count(account_page.text) == "1" and 'href="/notifications"' in account_page.text


async def test_no_badge_number_without_unread_notifications(client, account: Account) -> None:
    await logged_in(client, account)
    response = await client.get("/notifications")
    assert response.status_code == 200
    assert badge_count(response.text) is None and 'id="notification-badge"' in response.text
    assert "No notification yet." in response.text and "Mark all as read" not in response.text


async def test_opening_a_notification_marks_it_read_and_follows_its_local_link(client, account: Account) -> None:
    first = await notify(account, "Your claim was admitted", link="/cases/42")
    second = await notify(account, "A claim needs more information", link="/cases/42/claims/3")
    await logged_in(client, account)

    response = await post_form(client, f"/notifications/{first}/read", {}, follow_redirects=False)

    assert response.status_code == 303 and response.headers["location"] == "/cases/42"
    assert await unread_count(account.user.id) == 1
    page = await client.get("/notifications")
    assert badge_count(page.text) == "1"
    # An HTMX request is sent there by the client (HX-Redirect)
    response = await post_form(client, f"/notifications/{second}/read", {}, headers=HTMX)
    assert response.status_code == 200 and response.headers["hx-redirect"] == "/cases/42/claims/3"
    assert await unread_count(account.user.id) == 0
    # Opening a read one again is harmless
    again = await post_form(client, f"/notifications/{first}/read", {}, follow_redirects=False)
    assert again.status_code == 303 and again.headers["location"] == "/cases/42"


async def test_a_notification_link_never_leaves_the_site(client, account: Account) -> None:
    outside = await notify(account, "Strange link", link="//evil.example/phish")
    no_link = await notify(account, "Nothing to open")
    await logged_in(client, account)
    page = await client.get("/notifications")
    assert "evil.example" not in page.text
    assert "Mark as read" in page.text  # an item without a (safe) link is only marked read

    for notification_id in (outside, no_link):
        response = await post_form(client, f"/notifications/{notification_id}/read", {}, follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"] == "/notifications"
    page = await client.get("/notifications")
    assert "evil.example" not in page.text and 'class="notification unread"' not in page.text


async def test_nobody_sees_or_marks_another_users_notification(client) -> None:
    alice, mallory = await make_account(), await make_account()
    secret = await notify(alice, "Your private decision", link="/cases/9")
    await notify(mallory, "Mallory's own")
    await logged_in(client, mallory)

    forged = await post_form(client, f"/notifications/{secret}/read", {}, follow_redirects=False)
    missing = await post_form(client, f"/notifications/{2**31 - 1}/read", {}, follow_redirects=False)
    out_of_range = await post_form(client, f"/notifications/{2**40}/read", {}, follow_redirects=False)
    read_all = await post_form(client, "/notifications/read-all", {}, follow_redirects=False)
    listing = await client.get("/notifications")

    assert forged.status_code == 404 and missing.status_code == 404 and out_of_range.status_code == 400
    assert "Page not found" in forged.text and "/cases/9" not in forged.text
    assert read_all.status_code == 303
    assert "Your private decision" not in listing.text and titles_in(listing.text) == ["Mallory&#39;s own"]
    assert await unread_count(alice.user.id) == 1  # untouched by either request
    assert await unread_count(mallory.user.id) == 0


async def test_visitors_are_sent_to_log_in(client) -> None:
    listing = await client.get("/notifications", follow_redirects=False)
    assert listing.status_code == 303 and listing.headers["location"] == "/login?next=/notifications"
    for path in ("/notifications/read-all", "/notifications/1/read", "/notifications/settings"):
        response = await post_form(client, path, {"mode": "off"}, follow_redirects=False)
        assert response.status_code == 401, path
    # The badge's poll gets nothing to show and "stop polling" (286) instead of a login page
    badge = await client.get("/notifications/badge", headers=HTMX, follow_redirects=False)
    assert badge.status_code == 286 and badge.text == ""


async def test_read_all_marks_only_ones_own_and_htmx_gets_the_list_with_the_badge(client) -> None:
    alice, bob = await make_account(), await make_account()
    for title in ("One", "Two", "Three"):
        await notify(alice, title)
    await notify(bob, "Bob's")
    await logged_in(client, alice)

    response = await post_form(client, "/notifications/read-all", {}, headers=HTMX)

    assert response.status_code == 200
    assert "<html" not in response.text and response.text.lstrip().startswith('<div id="notification-list">')
    assert titles_in(response.text) == ["Three", "Two", "One"]
    assert 'class="notification unread"' not in response.text and "Mark all as read" not in response.text
    # The header's badge comes along out of band, now without a number
    assert 'id="notification-badge"' in response.text and 'hx-swap-oob="true"' in response.text
    assert badge_count(response.text) is None
    assert await unread_count(alice.user.id) == 0 and await unread_count(bob.user.id) == 1

    # Without JavaScript: a 303 back to the centre
    await notify(alice, "Four")
    plain = await post_form(client, "/notifications/read-all", {}, follow_redirects=False)
    assert plain.status_code == 303 and plain.headers["location"] == "/notifications"
    assert await unread_count(alice.user.id) == 0


async def test_the_badge_fragment_and_its_poll_does_not_keep_the_session_alive(client, account: Account) -> None:
    await notify(account, "One")
    await notify(account, "Two")
    await logged_in(client, account)

    response = await client.get("/notifications/badge", headers=HTMX)

    assert response.status_code == 200 and "<html" not in response.text
    assert response.text.lstrip().startswith('<span id="notification-badge"')
    assert 'hx-trigger="every 60s"' in response.text and badge_count(response.text) == "2"
    assert "(2 unread)" in response.text and response.headers["cache-control"] == "no-store"

    # Polling is not activity: the idle clock of the session does not move, while a real request moves it.
    # (The session store as this test's own client: the app's Redis client belongs to the app's loop.)
    store = make_stores(get_settings())["sessions"]
    async with store:
        session_id = client.cookies[SESSION_COOKIE]
        data = json.loads(await store.get(session_id))
        idle_since = int(time.time()) - 120
        await store.set(session_id, json.dumps(data | {"seen_at": idle_since}).encode(), expires_in=3600)
        assert (await client.get("/notifications/badge", headers=HTMX)).status_code == 200
        assert json.loads(await store.get(session_id))["seen_at"] == idle_since
        assert (await client.get("/notifications")).status_code == 200
        assert json.loads(await store.get(session_id))["seen_at"] > idle_since


async def test_older_notifications_come_thirty_at_a_time(client, account: Account) -> None:
    # Given 35 notifications, several created at the very same instant across the page boundary
    base = datetime.now(UTC).replace(microsecond=123456) - timedelta(hours=1)
    for number in range(35):
        at = base + timedelta(seconds=number // 4)  # groups of four share a timestamp
        await Notification.insert(Notification(user=account.user.id, kind="test", title=f"News {number:02d}",
                                               created_at=at))
    await logged_in(client, account)
    expected = [f"News {number:02d}" for number in reversed(range(35))]

    first = await client.get("/notifications")
    older = re.search(r'href="/notifications\?before=([0-9-]+)" rel="next"', first.text)
    assert first.status_code == 200 and older is not None
    assert titles_in(first.text) == expected[:30]

    second = await client.get(f"/notifications?before={older.group(1)}")
    assert second.status_code == 200
    assert titles_in(second.text) == expected[30:]
    assert 'rel="next"' not in second.text

    for cursor in ("yesterday", "1-0", "12-abc", "999999999999999999-1", "1-99999999999", "-1-5"):
        response = await client.get("/notifications", params={"before": cursor})
        assert response.status_code == 400, cursor


async def test_every_role_has_a_notification_centre(client) -> None:
    for role in Role:
        account = await make_account(role)
        await notify(account, f"Hello {role.value}")
        await logged_in(client, account)
        response = await client.get("/notifications")
        assert response.status_code == 200, role
        assert titles_in(response.text) == [f"Hello {role.value}"] and badge_count(response.text) == "1"


async def test_the_email_preference_is_saved_and_unknown_values_are_refused(client, account: Account) -> None:
    await logged_in(client, account)
    page = await client.get("/notifications")
    assert "Legal notices are always sent by e-mail" in page.text
    assert 'value="immediate" checked' in page.text and page.text.count('type="radio" name="mode"') == 3

    # Without JavaScript: saved, then back to the page which says so
    response = await post_form(client, "/notifications/settings", {"mode": "digest"}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/notifications?saved=1"
    assert (await User.select(User.notify_mode).where(User.id == account.user.id).first())["notify_mode"] == "digest"
    saved = await client.get("/notifications?saved=1")
    assert "Your choice is saved." in saved.text and 'value="digest" checked' in saved.text
    audit = await AuditEvent.select(AuditEvent.details).where(AuditEvent.actor == account.user.id,
                                                              AuditEvent.kind == "notify_mode_changed"
                                                              ).output(load_json=True)
    assert [row["details"] for row in audit] == [{"from": "immediate", "to": "digest"}]

    # Unknown, missing or oversized values: a 422 with the reason, nothing changed
    for data in ({"mode": "weekly"}, {}, {"mode": "off" * 5000}, {"mode": "OFF"}):
        refused = await post_form(client, "/notifications/settings", data)
        assert refused.status_code == 422, data
        assert "Please choose one of the options." in refused.text and 'value="digest" checked' in refused.text
    assert (await User.select(User.notify_mode).where(User.id == account.user.id).first())["notify_mode"] == "digest"

    # HTMX: only the form comes back, saved or refused
    fragment = await post_form(client, "/notifications/settings", {"mode": "off"}, headers=HTMX)
    assert fragment.status_code == 200 and "<html" not in fragment.text
    assert fragment.text.lstrip().startswith('<form id="notification-settings"')
    assert "Your choice is saved." in fragment.text and 'value="off" checked' in fragment.text
    refused = await post_form(client, "/notifications/settings", {"mode": "sometimes"}, headers=HTMX)
    assert refused.status_code == 422 and refused.text.lstrip().startswith('<form id="notification-settings"')
    assert 'value="off" checked' in refused.text
    assert (await User.select(User.notify_mode).where(User.id == account.user.id).first())["notify_mode"] == "off"


async def test_error_pages_still_render_for_a_logged_in_user(client) -> None:
    alice, bob = await make_account(), await make_account()
    other = await notify(alice, "Not yours")
    await notify(bob, "Yours")
    await logged_in(client, bob)
    # An error page renders synchronously, without queries: the header keeps the link, without the count
    response = await post_form(client, f"/notifications/{other}/read", {})
    assert response.status_code == 404 and "Page not found" in response.text
    assert 'id="notification-badge"' in response.text and badge_count(response.text) is None
    assert bob.user.display_name in response.text  # still shown as logged in
