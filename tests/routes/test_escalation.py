"""Escalation: after a refused or failed mediation, the consumer's own bundle for the litigation partner, and
staff's CSV of the opted-in consumers."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from datetime import UTC, datetime, timedelta

from app.actions.claims import evidence_path
from app.actions.timeline import do_expire_cases
from app.tables import Case, Claim, Evidence, Message, Role, Space, User
from tests.factories import World, assign, make_account, make_world, reload_claim
from tests.fixtures import Browsers, post_form

EVIDENCE = b"%PDF-1.4 facture 2025-11-03\n%%EOF\n"


async def failed_world() -> World:
    """A mediation that ran with A and B admitted and expired at its limit (certificates issued)."""
    world = await make_world(status="in_mediation")
    await assign(world.case, world.mediator)
    now = datetime.now(UTC)
    await Case.update({Case.started_at: now - timedelta(days=91), Case.ends_at: now - timedelta(minutes=1)}).where(
        Case.id == world.case.id)
    await Claim.update({Claim.status: "admitted"}).where(Claim.case == world.case.id)
    assert await do_expire_cases() >= 1
    return world


async def write_message(world: World, author: User, body: str, seq: int) -> None:
    space = await Space.objects().where(Space.key == f"{world.case.id}:plenary:0").first()
    if space is None:
        space = Space(case=world.case.id, kind="plenary", key=f"{world.case.id}:plenary:0", last_seq=0)
        await space.save()
    await Message.insert(Message(space=space.id, seq=seq, author=author.id, body=body))


async def test_after_a_failed_mediation_a_consumer_opts_in_and_downloads_only_their_own_file(
        browsers: Browsers) -> None:
    # Given an expired mediation, A's evidence file, and messages by A and by B
    world = await failed_world()
    stored = f"{world.claim_a.id:08d}abcdef"
    path = evidence_path(stored)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(EVIDENCE)
    await Evidence.insert(Evidence(claim=world.claim_a.id, kind="evidence", original_name="facture.pdf",
                                   stored_name=stored, content_type="application/pdf", size_bytes=len(EVIDENCE),
                                   sha256="0" * 64))
    await write_message(world, world.consumer_a.user, "Mon colis n'est jamais arrivé.", 1)
    await write_message(world, world.consumer_b.user, "Message de Bruno, confidentiel.", 2)
    consumer = await browsers.as_(world.consumer_a)
    page_path = f"/claims/{world.claim_a.id}/escalate"
    bundle_path = f"{page_path}/bundle.zip"
    # Before opting in: the page offers it, the bundle is refused
    page = await consumer.get(page_path)
    assert page.status_code == 200 and "Pass my file to the litigation partner" in page.text
    assert "/certificates/" in page.text
    early = await consumer.get(bundle_path)
    assert early.status_code == 409 and "Please first ask" in early.text
    # When they opt in
    response = await post_form(consumer, page_path, {"opt_in": "1"}, follow_redirects=False)
    assert response.status_code == 303
    assert (await reload_claim(world.claim_a)).escalation_opt_in_at is not None
    # Then the bundle holds their claim, evidence, certificate and their own messages only
    bundle = await consumer.get(bundle_path)
    assert bundle.status_code == 200 and bundle.headers["content-type"] == "application/zip"
    assert "attachment" in bundle.headers["content-disposition"]
    with zipfile.ZipFile(io.BytesIO(bundle.content)) as archive:
        names = archive.namelist()
        assert "claim.json" in names and "evidence/01-facture.pdf" in names
        assert "certificate-of-non-agreement.pdf" in names and "my-messages.txt" in names
        summary = json.loads(archive.read("claim.json"))
        assert summary["claim"]["amount_claimed_eur"] == "100.00" and summary["case"]["outcome"] == "expired"
        assert archive.read("evidence/01-facture.pdf") == EVIDENCE
        assert archive.read("certificate-of-non-agreement.pdf").startswith(b"%PDF")
        messages = archive.read("my-messages.txt").decode()
        assert "jamais arrivé" in messages and "Bruno" not in messages
    # Nobody else gets it, nor the page: 404
    for account in (world.consumer_b, world.member, world.mediator, world.staff):
        browser = await browsers.as_(account)
        assert (await browser.get(bundle_path)).status_code == 404, account.user.role
        assert (await browser.get(page_path)).status_code == 404
        assert (await post_form(browser, page_path, {"opt_in": "0"})).status_code == 404
    # Opting back out closes the bundle again
    await post_form(consumer, page_path, {"opt_in": "0"})
    assert (await consumer.get(bundle_path)).status_code == 409


async def test_a_running_mediation_has_no_escalation(browsers: Browsers) -> None:
    world = await make_world(status="in_mediation")
    await Claim.update({Claim.status: "admitted"}).where(Claim.id == world.claim_a.id)
    consumer = await browsers.as_(world.consumer_a)
    refused = await post_form(consumer, f"/claims/{world.claim_a.id}/escalate", {"opt_in": "1"})
    assert refused.status_code == 409 and "ends without agreement" in refused.text
    assert (await reload_claim(world.claim_a)).escalation_opt_in_at is None
    page = await consumer.get(f"/claims/{world.claim_a.id}/escalate")
    assert page.status_code == 200 and "Download my file" not in page.text


async def test_staff_export_the_opted_in_consumers_as_safe_csv(browsers: Browsers) -> None:
    # Given a refused case where A (with a formula for a name) opted in, B did not
    world = await make_world(status="refused")
    await User.update({User.display_name: "=HYPERLINK(\"http://evil\")"}).where(User.id == world.consumer_a.user.id)
    consumer = await browsers.as_(world.consumer_a)
    assert (await post_form(consumer, f"/claims/{world.claim_a.id}/escalate", {"opt_in": "1"},
                            follow_redirects=False)).status_code == 303
    # When staff export
    staff = await browsers.as_(world.staff)
    response = await staff.get("/staff/escalations.csv")
    # Then A's row is there, its formula neutralised; B's is not
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.text.lstrip("\ufeff"))))
    assert rows[0][:3] == ["Case", "Case title", "Company"]
    mine = [row for row in rows[1:] if row[4] == world.consumer_a.email]
    assert len(mine) == 1
    assert mine[0][3] == "'=HYPERLINK(\"http://evil\")" and mine[0][5] == "100.00" and mine[0][0] == str(world.case.id)
    assert not [row for row in rows if world.consumer_b.email in row]
    # Staff only
    for account in (world.consumer_a, world.member, await make_account(Role.mediator)):
        assert (await (await browsers.as_(account)).get("/staff/escalations.csv")).status_code in (403, 404)
    assert "/staff/escalations.csv" in (await staff.get("/staff")).text
