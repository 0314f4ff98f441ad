"""Web security: CSRF, session rotation and limits, rate limit, headers, hostile input."""

from __future__ import annotations

import secrets

from litestar.testing import AsyncTestClient

from app.http.security import CONTENT_SECURITY_POLICY
from app.tables import User
from tests.factories import PASSWORD, Account, unique_email
from tests.fixtures import build_app, csrf_token, login, post_form

SESSION_COOKIE = "clf_session"


async def test_forms_without_or_with_a_forged_csrf_token_are_refused(client, account: Account) -> None:
    await csrf_token(client)
    missing = await client.post("/login", data={"email": account.email, "password": PASSWORD})
    forged = await client.post("/login", data={"email": account.email, "password": PASSWORD,
                                               "_csrf_token": secrets.token_hex(64)})
    for response in (missing, forged):
        assert response.status_code == 403
        assert 'lang="fr"' in response.text and "Error" not in response.text.split("<main")[0][-200:]
    assert SESSION_COOKIE not in client.cookies


async def test_htmx_requests_need_the_csrf_header(client, account: Account) -> None:
    token = await csrf_token(client)
    headers = {"HX-Request": "true"}
    forged = await client.post("/login", data={"email": account.email, "password": PASSWORD},
                               headers=headers | {"x-csrftoken": secrets.token_hex(64)})
    assert forged.status_code == 403
    accepted = await client.post("/login", data={"email": account.email, "password": PASSWORD},
                                 headers=headers | {"x-csrftoken": token})
    assert accepted.status_code == 200 and accepted.headers["hx-redirect"] == "/account"


async def test_a_token_from_another_browser_is_refused(client, account: Account) -> None:
    async with AsyncTestClient(app=build_app(), base_url="http://testserver.local") as attacker:
        stolen = await csrf_token(attacker)
    await csrf_token(client)
    response = await client.post("/login", data={"email": account.email, "password": PASSWORD, "_csrf_token": stolen})
    assert response.status_code == 403


async def test_session_id_changes_at_login_and_logout(client, account: Account) -> None:
    # A session id planted before login (session fixation) is not kept
    client.cookies.set(SESSION_COOKIE, "planted-by-an-attacker", domain="testserver.local")
    await login(client, account.email)
    first = client.cookies[SESSION_COOKIE]
    assert first != "planted-by-an-attacker" and len(first) >= 64
    # Logging in again over a live session moves it to a new id and deletes the old one
    await login(client, account.email)
    second = client.cookies[SESSION_COOKIE]
    assert second != first
    async with AsyncTestClient(app=build_app(), base_url="http://testserver.local") as replay:
        replay.cookies.set(SESSION_COOKIE, first, domain="testserver.local")
        assert (await replay.get("/account", follow_redirects=False)).status_code == 303
    # Logout deletes the session server-side: replaying its id gets nothing
    await post_form(client, "/logout", {})
    assert SESSION_COOKIE not in client.cookies or not client.cookies[SESSION_COOKIE]
    async with AsyncTestClient(app=build_app(), base_url="http://testserver.local") as replay:
        replay.cookies.set(SESSION_COOKIE, second, domain="testserver.local")
        assert (await replay.get("/account", follow_redirects=False)).status_code == 303


async def test_session_cookie_flags(account: Account) -> None:
    async with AsyncTestClient(app=build_app(), base_url="http://testserver.local") as plain:
        response = await login(plain, account.email)
        cookie = _set_cookie(response, SESSION_COOKIE)
        assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Secure" not in cookie
    async with AsyncTestClient(app=build_app(base_url="https://mediation.example"),
                               base_url="https://testserver.local") as secure:
        response = await login(secure, account.email)
        cookie = _set_cookie(response, SESSION_COOKIE)
        assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Secure" in cookie
        assert response.headers["strict-transport-security"].startswith("max-age=")


def _set_cookie(response, name: str) -> str:
    for candidate in [response, *response.history]:
        for header in candidate.headers.get_list("set-cookie"):
            if header.startswith(f"{name}="):
                return header
    raise AssertionError(f"no {name} cookie set")


async def test_idle_and_absolute_session_limits(account: Account) -> None:
    for limits in ({"session_idle_minutes": -1}, {"session_max_hours": -1}):
        async with AsyncTestClient(app=build_app(**limits), base_url="http://testserver.local") as browser:
            await login(browser, account.email)
            response = await browser.get("/account", follow_redirects=False)
            assert response.status_code == 303, limits
    async with AsyncTestClient(app=build_app(), base_url="http://testserver.local") as browser:
        await login(browser, account.email)
        assert (await browser.get("/account")).status_code == 200


async def test_login_is_rate_limited(account: Account) -> None:
    app = build_app(login_rate_per_minute=3, redis_prefix=f"rate-{secrets.token_hex(4)}")
    async with AsyncTestClient(app=app, base_url="http://testserver.local") as browser:
        statuses = [(await post_form(browser, "/login", {"email": account.email, "password": "wrong one, sorry"}))
                    .status_code for _ in range(4)]
        assert statuses == [422, 422, 422, 429]
        blocked = await post_form(browser, "/login", {"email": account.email, "password": PASSWORD})
        assert blocked.status_code == 429 and blocked.headers["retry-after"] == "60"
        assert 'lang="fr"' in blocked.text
        # Reading pages is not limited
        assert (await browser.get("/login")).status_code == 200


async def test_security_headers_on_every_kind_of_response(client) -> None:
    token = await csrf_token(client)
    responses = [
        await client.get("/"),
        await client.get("/faq"),
        await client.get("/static/app.css"),
        await client.get("/healthz"),
        await client.get("/does-not-exist"),
        await client.delete("/"),
        await client.post("/login", data={"email": "x"}),
        await client.post("/signup", content=b"x" * (1024 * 1024 + 10),
                          headers={"content-type": "application/x-www-form-urlencoded", "x-csrftoken": token}),
    ]
    assert [r.status_code for r in responses] == [200, 200, 200, 200, 404, 405, 403, 413]
    for response in responses:
        assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
        assert "'unsafe-inline'" not in response.headers["content-security-policy"]
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "same-origin"
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
        assert "strict-transport-security" not in response.headers  # plain http here


async def test_error_pages_are_in_the_visitors_language_and_never_show_a_trace(client) -> None:
    french = await client.get("/nowhere")
    assert french.status_code == 404 and 'lang="fr"' in french.text and "Traceback" not in french.text
    client.cookies.set("lang", "en")
    english = await client.get("/nowhere")
    assert english.status_code == 404 and 'lang="en"' in english.text and "Page not found" in english.text
    wrong_method = await client.put("/login")
    assert wrong_method.status_code == 405 and "does not accept this kind of request" in wrong_method.text


async def test_hostile_input_gets_a_clear_answer_and_saves_nothing(client) -> None:
    token = await csrf_token(client)
    users_before = await User.count()
    email = unique_email("hostile")
    cases = [
        # overlong fields
        {"email": email, "display_name": "N" * 5000, "password": PASSWORD, "password_confirm": PASSWORD},
        {"email": "a" * 300 + "@example.org", "display_name": "Ok", "password": PASSWORD, "password_confirm": PASSWORD},
        {"email": email, "display_name": "Ok", "password": "p" * 20000, "password_confirm": "p"},
        # invalid e-mail, control characters, missing fields
        {"email": "nobody@", "display_name": "Ok", "password": PASSWORD, "password_confirm": PASSWORD},
        {"email": "x@example.org\r\nBcc: victim@example.org", "display_name": "Ok", "password": PASSWORD,
         "password_confirm": PASSWORD},
        {},
    ]
    for data in cases:
        response = await post_form(client, "/signup", data)
        assert response.status_code == 422, data.keys()
        assert 'class="error' in response.text
    # bytes that are not UTF-8, in an URL-encoded and in a multipart body
    raw = await client.post("/signup", content=b"email=%ff%fe&display_name=\xff\xfe\xfa&_csrf_token=" + token.encode(),
                            headers={"content-type": "application/x-www-form-urlencoded"})
    assert raw.status_code in (400, 422) and "Traceback" not in raw.text
    multipart = await client.post(
        "/signup", content=b'--b\r\nContent-Disposition: form-data; name="email"\r\n\r\n\xff\xfe\r\n--b--\r\n',
        headers={"content-type": "multipart/form-data; boundary=b", "x-csrftoken": token})
    assert multipart.status_code in (400, 422)
    # a wrong type of body
    json_body = await client.post("/login", json={"email": email}, headers={"x-csrftoken": token})
    assert json_body.status_code in (400, 422)
    # a body over the limit
    huge = await client.post("/login", content=b"a=" + b"x" * (2 * 1024 * 1024),
                             headers={"content-type": "application/x-www-form-urlencoded", "x-csrftoken": token})
    assert huge.status_code == 413 and "trop volumineux" in huge.text
    assert await User.count() == users_before


async def test_an_unexpected_error_gives_the_500_page_without_a_trace() -> None:
    from litestar import get

    @get("/boom", name="boom")
    async def boom() -> str:
        raise RuntimeError("secret internals: /etc/passwd")

    app = build_app()
    app.register(boom)
    async with AsyncTestClient(app=app, base_url="http://testserver.local") as browser:
        response = await browser.get("/boom")
        assert response.status_code == 500
        assert "secret internals" not in response.text and "Traceback" not in response.text
        assert "Un problème est survenu de notre côté" in response.text
        assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
