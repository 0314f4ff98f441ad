"""Sign-up, verification, login, logout, reset and change of password, through the real routes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from app.tables import AccountToken, User
from tests.factories import PASSWORD, Account, make_account, unique_email
from tests.fixtures import link_in, login, mails_to, post_form

NEW_PASSWORD = "seven lanterns over the harbour"


async def test_signup_verify_login_logout(client) -> None:
    # Given a visitor on the sign-up page
    email = unique_email("signup")
    page = await client.get("/signup")
    assert page.status_code == 200 and "Créez votre compte" in page.text
    # When they sign up
    response = await post_form(client, "/signup", {"email": email, "display_name": "Nina Roux",
                                                   "password": PASSWORD, "password_confirm": PASSWORD},
                               follow_redirects=False)
    # Then they are sent to the "check your inbox" page and a verification mail waits in the outbox
    assert response.status_code == 303 and response.headers["location"] == "/signup/sent"
    user = await User.objects().where(User.email == email).first()
    assert user is not None and user.email_verified_at is None and user.role == "consumer"
    [mail] = await mails_to(email)
    assert "Bonjour Nina Roux" in mail.body_text
    verify_path = link_in(mail, "/verify/")

    # Logging in before confirming is refused, with the reason (the password was right)
    refused = await post_form(client, "/login", {"email": email, "password": PASSWORD})
    assert refused.status_code == 403 and "confirmer votre adresse e-mail" in refused.text

    # Opening the link shows a button; only the POST spends the token
    shown = await client.get(verify_path)
    assert shown.status_code == 200 and "Confirmer mon adresse" in shown.text
    confirmed = await post_form(client, verify_path, {})
    assert confirmed.status_code == 200 and "Adresse confirmée" in confirmed.text
    again = await post_form(client, verify_path, {})
    assert again.status_code == 400 and "Lien invalide ou expiré" in again.text

    # Then login works, the account page shows who is logged in, and logout ends it
    response = await post_form(client, "/login", {"email": email, "password": PASSWORD}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/account"
    account_page = await client.get("/account")
    assert account_page.status_code == 200 and "Nina Roux" in account_page.text and email in account_page.text
    out = await post_form(client, "/logout", {}, follow_redirects=False)
    assert out.status_code == 303
    after = await client.get("/account", follow_redirects=False)
    assert after.status_code == 303 and after.headers["location"].startswith("/login?next=/account")


async def test_signup_errors_come_back_as_the_form_fragment_for_htmx(client) -> None:
    response = await post_form(client, "/signup", {"email": "not-an-email", "display_name": "",
                                                   "password": "short", "password_confirm": "short"},
                               headers={"HX-Request": "true"})
    assert response.status_code == 422
    assert "<html" not in response.text and 'id="signup-form"' in response.text
    assert "adresse e-mail valide" in response.text
    assert "au moins 12 caractères" in response.text


async def test_signup_with_a_registered_address_looks_the_same_and_creates_nothing(client, account: Account) -> None:
    before = await User.count()
    response = await post_form(client, "/signup", {"email": account.email.upper(), "display_name": "Intrus",
                                                   "password": NEW_PASSWORD, "password_confirm": NEW_PASSWORD},
                               follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/signup/sent"
    assert await User.count() == before
    [mail] = await mails_to(account.email)
    assert "tenté de créer un compte" in mail.subject


async def test_login_does_not_tell_unknown_address_from_wrong_password(client, account: Account) -> None:
    unknown = await post_form(client, "/login", {"email": unique_email("nobody"), "password": PASSWORD})
    wrong = await post_form(client, "/login", {"email": account.email, "password": "wrong password here"})
    assert unknown.status_code == wrong.status_code == 422
    message = "Adresse e-mail ou mot de passe incorrect"
    assert message in unknown.text and message in wrong.text
    # Same page apart from the e-mail echoed back into the field
    assert unknown.text.replace(unknown.request.content.decode(), "").count("error-summary") == 1
    assert wrong.text.count("error-summary") == 1


async def test_password_reset_is_single_use_and_expires(client, account: Account) -> None:
    # A reset request for an unknown address gives the same answer and sends nothing
    unknown = unique_email("ghost")
    answer_unknown = await post_form(client, "/password/forgot", {"email": unknown})
    answer_known = await post_form(client, "/password/forgot", {"email": account.email})
    assert answer_unknown.status_code == answer_known.status_code == 200
    assert "Si un compte existe" in answer_unknown.text and "Si un compte existe" in answer_known.text
    assert await mails_to(unknown) == []
    [mail] = await mails_to(account.email)
    reset_path = link_in(mail, "/password/reset/")

    # Looking at the form does not spend the token; a refused password does not either
    assert (await client.get(reset_path)).status_code == 200
    weak = await post_form(client, reset_path, {"password": "password1234", "password_confirm": "password1234"})
    assert weak.status_code == 422 and "trop courant" in weak.text

    # A good password is saved, the user is logged in, and a notice is mailed
    done = await post_form(client, reset_path, {"password": NEW_PASSWORD, "password_confirm": NEW_PASSWORD},
                           follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == "/account?changed=1"
    assert (await client.get("/account")).status_code == 200
    assert len(await mails_to(account.email)) == 2

    # The same link again: refused, and the password stays the new one
    replay = await post_form(client, reset_path, {"password": PASSWORD, "password_confirm": PASSWORD})
    assert replay.status_code == 400 and "Lien invalide ou expiré" in replay.text
    assert (await client.get(reset_path)).status_code == 400
    await post_form(client, "/logout", {})
    await login(client, account.email, NEW_PASSWORD)
    assert (await client.get("/account")).status_code == 200

    # An expired link is refused too
    await post_form(client, "/password/forgot", {"email": account.email})
    expired_path = link_in((await mails_to(account.email))[-1], "/password/reset/")
    await AccountToken.update({AccountToken.expires_at: datetime.now(UTC) - timedelta(seconds=1)}).where(
        AccountToken.user == account.user.id, AccountToken.used_at.is_null())
    assert (await client.get(expired_path)).status_code == 400
    expired = await post_form(client, expired_path, {"password": PASSWORD, "password_confirm": PASSWORD})
    assert expired.status_code == 400


async def test_forged_or_malformed_tokens_are_refused(client) -> None:
    for token in ["x" * 43, "short", "a" * 300, "%00%ff", "..%2F..%2Fetc"]:
        response = await client.get(f"/password/reset/{token}")
        assert response.status_code in (400, 404), token
        response = await post_form(client, f"/verify/{token}", {})
        assert response.status_code in (400, 404), token


async def test_password_change_needs_the_current_one_and_ends_other_sessions(client, account: Account) -> None:
    from litestar.testing import AsyncTestClient

    from tests.fixtures import build_app

    async with AsyncTestClient(app=build_app(), base_url="http://testserver.local") as other_device:
        await login(other_device, account.email)
        await login(client, account.email)
        assert (await other_device.get("/account")).status_code == 200

        wrong = await post_form(client, "/account/password", {"current_password": "not it at all",
                                                              "password": NEW_PASSWORD,
                                                              "password_confirm": NEW_PASSWORD})
        assert wrong.status_code == 422 and "Le mot de passe actuel est incorrect" in wrong.text
        changed = await post_form(client, "/account/password", {"current_password": PASSWORD,
                                                                "password": NEW_PASSWORD,
                                                                "password_confirm": NEW_PASSWORD},
                                  follow_redirects=False)
        assert changed.status_code == 303
        assert (await client.get("/account")).status_code == 200
        assert (await other_device.get("/account", follow_redirects=False)).status_code == 303
        [notice] = await mails_to(account.email)
        assert "modifié" in notice.subject


async def test_account_pages_need_a_login(client) -> None:
    for path in ["/account", "/account/password"]:
        response = await client.get(path, follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"] == f"/login?next={path}"
    response = await post_form(client, "/account/password", {"current_password": "x", "password": "y"})
    assert response.status_code == 401 and "connecter" in response.text


async def test_login_redirects_only_to_local_paths(client, account: Account) -> None:
    for target, expected in [("/faq", "/faq"), ("https://evil.example/", "/account"), ("//evil.example", "/account")]:
        response = await post_form(client, "/login", {"email": account.email, "password": PASSWORD, "next": target},
                                   follow_redirects=False)
        assert response.headers["location"] == expected
        await post_form(client, "/logout", {})


async def test_unverified_accounts_created_for_staff_by_cli_are_verified(client) -> None:
    staff = await make_account(role=__import__("app.tables", fromlist=["Role"]).Role.staff)
    await login(client, staff.email)
    page = await client.get("/account")
    assert "Équipe" in page.text or "Staff" in page.text
