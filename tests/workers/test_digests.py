"""do_notify writes each notification in its recipient's language and mails it as they prefer; the daily digest.

Without SMTP_URL (the tests' setting) mails stay in the outbox, which is what is checked here.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from app.actions.notifications import N_, do_notify, do_send_digests, do_set_notify_mode
from app.tables import Notification, User
from tests.factories import Account, make_account
from tests.fixtures import mails_to

# msgids that have a French translation (the notification texts of the features come with their own)
TITLE = N_("Hello %(name)s,")
BODY = N_("To log in: %(url)s")


async def account_with(mode: str, language: str = "fr") -> Account:
    account = await make_account()
    await User.update({User.notify_mode: mode, User.locale: language}).where(User.id == account.user.id)
    return account


async def notifications_of(account: Account) -> list[Notification]:
    return await Notification.objects().where(Notification.user == account.user.id).order_by(Notification.id)


async def notify(*accounts: Account, title: str = TITLE, legal: bool = False, name: str = "Léa") -> int:
    return await do_notify([account.user.id for account in accounts], kind="test", title=title, body=BODY,
                           link="/cases/12", params={"name": name, "url": "/login"}, legal=legal)


async def test_each_recipient_gets_the_notification_in_their_language() -> None:
    french, english = await account_with("immediate", "fr"), await account_with("immediate", "en")

    count = await notify(french, english)

    assert count == 2
    [in_french], [in_english] = await notifications_of(french), await notifications_of(english)
    assert (in_french.title, in_french.body) == ("Bonjour Léa,", "Pour vous connecter : /login")
    assert (in_english.title, in_english.body) == ("Hello Léa,", "To log in: /login")
    assert in_french.link == "/cases/12" and in_french.read_at is None and in_french.mailed_at is not None
    # The immediate mail is in the recipient's language too, with the link on the site
    [mail_fr], [mail_en] = await mails_to(french.email), await mails_to(english.email)
    assert mail_fr.subject == "Bonjour Léa," and "Pour vous connecter : /login" in mail_fr.body_text
    assert "http://testserver.local/cases/12" in mail_fr.body_text
    assert "préférences de notification" in mail_fr.body_text
    assert mail_en.subject == "Hello Léa," and "notification settings" in mail_en.body_text


async def test_nobody_and_an_unknown_id_get_nothing() -> None:
    assert await do_notify([], kind="test", title=TITLE, params={"name": "x"}) == 0
    assert await do_notify([2**31 - 1], kind="test", title=TITLE, params={"name": "x"}) == 0


async def test_immediate_mode_mails_each_notification_once() -> None:
    account = await account_with("immediate")
    await notify(account, name="Un")
    await notify(account, name="Deux")
    mails = await mails_to(account.email)
    assert [mail.subject for mail in mails] == ["Bonjour Un,", "Bonjour Deux,"]
    # Already mailed: the digest has nothing for an immediate user
    await do_send_digests()
    assert len(await mails_to(account.email)) == 2


async def test_digest_mode_mails_one_list_a_day() -> None:
    account = await account_with("digest")
    now = datetime.now(UTC)
    await notify(account, name="Premier")
    await notify(account, name="Second")
    assert await mails_to(account.email) == []  # nothing at once
    assert all(item.mailed_at is None for item in await notifications_of(account))

    await do_send_digests(now)
    [digest] = await mails_to(account.email)
    assert digest.subject == "Vos nouvelles Cessez-le-feu du jour"
    body = digest.body_text
    assert "- Bonjour Premier,: http://testserver.local/cases/12" in body
    assert body.index("Bonjour Premier") < body.index("Bonjour Second")
    assert all(item.mailed_at is not None for item in await notifications_of(account))

    # The same day: a new notification waits, and another sweep sends nothing
    await notify(account, name="Troisième")
    await do_send_digests(now + timedelta(hours=1))
    await do_send_digests(now + timedelta(hours=22))
    assert len(await mails_to(account.email)) == 1

    # The next day: one more digest, with only what is new
    await do_send_digests(now + timedelta(hours=24))
    mails = await mails_to(account.email)
    assert len(mails) == 2
    assert "Bonjour Troisième" in mails[1].body_text and "Bonjour Premier" not in mails[1].body_text


async def test_an_empty_day_sends_no_digest() -> None:
    account = await account_with("digest")
    await do_send_digests()
    assert await mails_to(account.email) == []


async def test_the_digest_is_in_the_recipients_language() -> None:
    account = await account_with("digest", "en")
    await notify(account, name="Sam")
    await do_send_digests()
    [digest] = await mails_to(account.email)
    assert digest.subject == "Your Cessez-le-feu news of the day"
    assert "- Hello Sam,: http://testserver.local/cases/12" in digest.body_text


async def test_off_mode_mails_nothing_but_legal_notices() -> None:
    account = await account_with("off")
    await notify(account, name="Rien")
    await do_send_digests()
    assert await mails_to(account.email) == []
    [quiet] = await notifications_of(account)
    assert quiet.mailed_at is None and quiet.title == "Bonjour Rien,"  # still in the centre

    await notify(account, name="Légal", legal=True)
    [mail] = await mails_to(account.email)
    assert mail.subject == "Bonjour Légal,"
    assert "préférences de notification" not in mail.body_text  # a legal notice is not a matter of settings
    legal = (await notifications_of(account))[-1]
    assert legal.is_legal and legal.mailed_at is not None


async def test_a_legal_notice_in_digest_mode_goes_at_once_and_not_again_in_the_digest() -> None:
    account = await account_with("digest")
    await notify(account, name="Légal", legal=True)
    assert [mail.subject for mail in await mails_to(account.email)] == ["Bonjour Légal,"]
    await notify(account, name="Ordinaire")
    await do_send_digests()
    mails = await mails_to(account.email)
    assert len(mails) == 2
    assert "Bonjour Ordinaire" in mails[1].body_text and "Bonjour Légal" not in mails[1].body_text


async def test_switching_from_off_to_digest_does_not_mail_the_old_backlog() -> None:
    account = await account_with("off")
    await notify(account, name="Ancien")
    await Notification.update({Notification.created_at: datetime.now(UTC) - timedelta(days=30)}).where(
        Notification.user == account.user.id)
    await notify(account, name="Récent")

    assert await do_set_notify_mode(account.user.id, "digest")
    await do_send_digests()

    [digest] = await mails_to(account.email)
    assert "Bonjour Récent" in digest.body_text and "Bonjour Ancien" not in digest.body_text


async def test_an_unknown_mode_is_refused() -> None:
    account = await account_with("immediate")
    assert not await do_set_notify_mode(account.user.id, "hourly")
    assert not await do_set_notify_mode(2**31 - 1, "digest")
    mode = await User.select(User.notify_mode).where(User.id == account.user.id).first()
    assert mode == {"notify_mode": "immediate"}
