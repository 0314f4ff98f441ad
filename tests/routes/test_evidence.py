"""Evidence files: checked by content and size, stored outside the static folder, served only to those allowed."""

from __future__ import annotations

from pathlib import Path

from app.actions.claims import evidence_dir
from app.domain.evidence import MAX_FILE_BYTES, MAX_UPLOAD_REQUEST_BYTES
from app.tables import AuditEvent, Claim, CompanyMember, Evidence, Role
from tests.factories import EXE_BYTES, JPEG_BYTES, claim_values, make_account, pdf_bytes, png_bytes
from tests.factories.cases import make_case, make_company
from tests.fixtures import HTMX, csrf_token, is_fragment, logged_in, post_form, visible


async def upload(browser, claim_id: int, files: list[tuple[str, bytes, str]], kind: str = "evidence",
                 **kwargs):  # type: ignore[no-untyped-def]
    """Post files the way the page's form does (multipart, CSRF token in the form)."""
    return await browser.post(
        f"/claims/{claim_id}/evidence", data={"kind": kind, "_csrf_token": await csrf_token(browser)},
        files=[("file", (name, content, content_type)) for name, content, content_type in files], **kwargs)


def static_copies(name: str) -> list[Path]:
    return list((Path(__file__).resolve().parents[2] / "app" / "static").rglob(name))


def stored_files() -> set[str]:
    folder = evidence_dir()
    return {path.name for path in folder.iterdir()} if folder.exists() else set()


async def evidence_of(claim_id: int) -> list[Evidence]:
    return await Evidence.objects().where(Evidence.claim == claim_id).order_by(Evidence.id)


async def test_a_consumer_adds_evidence_and_downloads_it_as_an_attachment() -> None:
    consumer = await make_account()
    case, claim = await make_case(consumer)
    content = pdf_bytes()
    async with logged_in(consumer) as browser:
        page = await browser.get(f"/claims/{claim.id}")
        assert 'id="evidence-form"' in page.text and "proof of your written complaint" in page.text
        # The proof of the written complaint, with a hostile name
        response = await upload(browser, claim.id, [("../../etc/Réclamation \"EDF\".pdf", content, "text/html")],
                                kind="complaint", follow_redirects=False)
        assert response.status_code == 303, response.text
        [evidence] = await evidence_of(claim.id)
        assert evidence.kind == "complaint" and evidence.content_type == "application/pdf"
        assert evidence.original_name == "Réclamation EDF .pdf".replace(" .", ".")
        assert evidence.size_bytes == len(content) and len(evidence.sha256) == 64
        # Stored under a random name in VAR_DIR/evidence, never in the static folder
        path = evidence_dir() / evidence.stored_name
        assert path.read_bytes() == content and evidence.stored_name.isalnum()
        assert "static" not in str(path) and not static_copies(evidence.stored_name)
        assert await AuditEvent.exists().where(AuditEvent.case == case.id, AuditEvent.kind == "evidence_added")
        # Downloaded as an attachment, typed from its content, with a safe name
        download = await browser.get(f"/evidence/{evidence.id}")
        assert download.status_code == 200 and download.content == content
        assert download.headers["content-type"].startswith("application/pdf")
        assert download.headers["content-disposition"].startswith("attachment;")
        assert "../" not in download.headers["content-disposition"]
        assert download.headers["x-content-type-options"] == "nosniff"
        assert "no-store" in download.headers["cache-control"]
        listed = await browser.get(f"/claims/{claim.id}")
        assert "Réclamation EDF.pdf" in visible(listed)
        assert "proof of your written complaint to the company is missing" not in visible(listed)
        # HTMX uploads get the evidence region back
        fragment = await upload(browser, claim.id, [("photo.png", png_bytes(), "image/png"),
                                                    ("ticket.jpeg", JPEG_BYTES, "image/jpeg")], headers=HTMX)
        assert fragment.status_code == 200 and is_fragment(fragment.text, "claim-evidence")
        assert "photo.png" in fragment.text and "ticket.jpg" in fragment.text
    assert [item.content_type for item in await evidence_of(claim.id)] == ["application/pdf", "image/png",
                                                                           "image/jpeg"]


async def test_files_are_served_only_to_those_who_may_see_the_claim(client) -> None:
    owner = await make_account()
    company = await make_company()
    case, claim = await make_case(owner, company)
    async with logged_in(owner) as browser:
        uploaded = await upload(browser, claim.id, [("facture.pdf", pdf_bytes(), "application/pdf")],
                                follow_redirects=False)
        assert uploaded.status_code == 303
    [evidence] = await evidence_of(claim.id)
    # Another consumer of the same case, a consumer of another case, the company before accepting: 404
    other = await make_account()
    async with logged_in(other) as browser:
        await post_form(browser, f"/cases/{case.id}/claims", claim_values())
        assert (await browser.get(f"/evidence/{evidence.id}")).status_code == 404
        assert (await post_form(browser, f"/evidence/{evidence.id}/delete", {})).status_code == 404
    representative = await make_account(Role.company)
    await CompanyMember.insert(CompanyMember(company=company.id, user=representative.user.id))
    async with logged_in(representative) as browser:
        assert (await browser.get(f"/evidence/{evidence.id}")).status_code == 404
    # Guessing addresses finds nothing: the stored name, the folder, a path through static files
    async with logged_in(other) as browser:
        for path in (f"/evidence/{evidence.stored_name}", f"/static/../var/evidence/{evidence.stored_name}",
                     f"/static/{evidence.stored_name}", f"/evidence/{evidence.id + 100000}", "/evidence/0"):
            assert (await browser.get(path)).status_code in (400, 404), path
    # A visitor is sent to log in
    visitor = await client.get(f"/evidence/{evidence.id}", follow_redirects=False)
    assert visitor.status_code == 303 and "/login" in visitor.headers["location"]
    # Staff may download it
    async with logged_in(await make_account(Role.staff)) as browser:
        assert (await browser.get(f"/evidence/{evidence.id}")).status_code == 200


async def test_an_executable_renamed_pdf_and_other_bad_files_are_refused_and_nothing_is_saved() -> None:
    consumer = await make_account()
    _case, claim = await make_case(consumer)
    before = stored_files()
    async with logged_in(consumer) as browser:
        for files, message in (
            ([("facture.pdf", EXE_BYTES, "application/pdf")], "is not a PDF, JPEG or PNG file"),
            ([("page.png", b"<html><script>alert(1)</script></html>", "image/png")], "is not a PDF, JPEG or PNG"),
            ([("vide.pdf", b"", "application/pdf")], "is empty"),
            # One good file and one bad one: neither is kept
            ([("bon.pdf", pdf_bytes(), "application/pdf"), ("mauvais.pdf", EXE_BYTES, "application/pdf")],
             "mauvais.pdf"),
        ):
            response = await upload(browser, claim.id, files, headers=HTMX)
            assert response.status_code == 422 and is_fragment(response.text, "claim-evidence"), message
            assert message in visible(response), message
        forged_kind = await upload(browser, claim.id, [("a.pdf", pdf_bytes(), "application/pdf")], kind="contract")
        assert forged_kind.status_code == 422 and "say what this file is" in visible(forged_kind)
        none = await browser.post(f"/claims/{claim.id}/evidence", files=[("file", ("", b"", "application/pdf"))],
                                  data={"kind": "evidence", "_csrf_token": await csrf_token(browser)})
        assert none.status_code == 422 and "Please choose a file" in none.text
    assert await evidence_of(claim.id) == [] and stored_files() == before


async def test_size_limits_per_file_per_request_and_per_claim() -> None:
    consumer = await make_account()
    _case, claim = await make_case(consumer)
    before = stored_files()
    async with logged_in(consumer) as browser:
        # Just over 10 MB: the form explains
        too_big = await upload(browser, claim.id, [("scan.pdf", pdf_bytes(MAX_FILE_BYTES + 1), "application/pdf")])
        assert too_big.status_code == 422 and "larger than 10 MB" in too_big.text
        # Far over: refused before it is read (413)
        huge = await upload(browser, claim.id, [("scan.pdf", pdf_bytes(MAX_UPLOAD_REQUEST_BYTES + 1024),
                                                 "application/pdf")])
        assert huge.status_code == 413 and "too large" in huge.text
        assert await evidence_of(claim.id) == [] and stored_files() == before
        # 50 MB per claim: with 45 MB already attached, 6 more are refused; 4 more are fine
        await Evidence.insert(*[Evidence(claim=claim.id, kind="evidence", original_name=f"old{n}.pdf",
                                         stored_name=f"fake{n}{claim.id}x", content_type="application/pdf",
                                         size_bytes=9 * 1024 * 1024, sha256="0" * 64) for n in range(5)])
        over = await upload(browser, claim.id, [("six.pdf", pdf_bytes(6 * 1024 * 1024), "application/pdf")])
        assert over.status_code == 422 and "at most 50 MB" in over.text
        assert len(await evidence_of(claim.id)) == 5 and stored_files() == before
        fits = await upload(browser, claim.id, [("four.pdf", pdf_bytes(4 * 1024 * 1024), "application/pdf")],
                            follow_redirects=False)
        assert fits.status_code == 303 and len(await evidence_of(claim.id)) == 6


async def test_files_are_removed_and_added_only_while_the_claim_may_change() -> None:
    consumer = await make_account()
    _case, claim = await make_case(consumer)
    async with logged_in(consumer) as browser:
        await upload(browser, claim.id, [("a.pdf", pdf_bytes(), "application/pdf"),
                                         ("b.pdf", pdf_bytes(), "application/pdf")])
        first, second = await evidence_of(claim.id)
        response = await post_form(browser, f"/evidence/{first.id}/delete", {}, follow_redirects=False)
        assert response.status_code == 303
        assert [item.id for item in await evidence_of(claim.id)] == [second.id]
        assert not (evidence_dir() / first.stored_name).exists()
        # Admitted: the file list is frozen
        await Claim.update({Claim.status: "admitted"}).where(Claim.id == claim.id)
        refused = await post_form(browser, f"/evidence/{second.id}/delete", {})
        assert refused.status_code == 409 and "has been admitted" in refused.text
        added = await upload(browser, claim.id, [("c.pdf", pdf_bytes(), "application/pdf")])
        assert added.status_code == 409
        assert (await browser.get(f"/evidence/{second.id}")).status_code == 200  # still downloadable
    assert [item.id for item in await evidence_of(claim.id)] == [second.id]
    assert (evidence_dir() / second.stored_name).exists()


async def test_only_the_claims_consumer_uploads() -> None:
    owner = await make_account()
    case, claim = await make_case(owner)
    async with logged_in(await make_account(Role.staff)) as browser:
        assert (await upload(browser, claim.id, [("a.pdf", pdf_bytes(), "application/pdf")])).status_code == 403
    async with logged_in(await make_account()) as browser:
        assert (await upload(browser, claim.id, [("a.pdf", pdf_bytes(), "application/pdf")])).status_code == 404
    assert await evidence_of(claim.id) == []
