"""Agreements, certificates, the collective record and the invoice: the pages, the downloads (only for those
entitled, 404 for anyone else), the consumer's signature, the company's countersignature, and the mediator's
"close the decisions now"."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.response import File

from app.actions.agreements import (
    agreement_for_viewer,
    agreement_page,
    agreements_access,
    agreements_page,
    do_close_decisions,
    do_countersign,
    do_sign_agreement,
    fee_for_viewer,
    record_for_viewer,
)
from app.actions.certificates import certificate_for_viewer
from app.actions.errors import NotFound
from app.domain.accounts import FormErrors
from app.http.auth import logged_in_user, requires_login
from app.http.forms import read_form
from app.http.web import RowId, page, redirect_to, stored_file
from app.platform.documents import document_path


def _client(request: Request[Any, Any, Any]) -> tuple[str, str]:
    """The address and browser recorded with a signature."""
    host = request.client.host if request.client else ""
    return host[:64], request.headers.get("user-agent", "")[:400]


def _pdf(stored_name: str, filename: str) -> File:
    try:
        path = document_path(stored_name)
    except FileNotFoundError:
        raise NotFound() from None
    return stored_file(path, filename, "application/pdf")


class CaseAgreementsController(Controller):
    """A case's agreements, its collective record and its invoice; the countersignature; closing decisions."""

    guards = [requires_login]

    @get("/cases/{case_id:int}/agreements", name="list_agreements")
    async def list_agreements(self, request: Request[Any, Any, Any], case_id: RowId) -> Response[str]:
        access = await agreements_access(await logged_in_user(request), case_id)
        return await page(request, "agreements/index.html", block="agreements_panel", **await agreements_page(access))

    @post("/cases/{case_id:int}/agreements/countersign", name="countersign_agreements")
    async def countersign_agreements(self, request: Request[Any, Any, Any], case_id: RowId) -> Response[Any]:
        ip, user_agent = _client(request)
        await do_countersign(await logged_in_user(request), case_id, ip=ip, user_agent=user_agent)
        return redirect_to(request, "list_agreements", case_id=case_id, query="countersigned=1")

    @get("/cases/{case_id:int}/agreements/record", name="download_collective_record")
    async def download_collective_record(self, request: Request[Any, Any, Any], case_id: RowId) -> File:
        found = await record_for_viewer(await logged_in_user(request), case_id)
        return _pdf(found.stored_name, f"collective-record-{case_id}.pdf")

    @get("/cases/{case_id:int}/invoice", name="download_invoice")
    async def download_invoice(self, request: Request[Any, Any, Any], case_id: RowId) -> File:
        fee = await fee_for_viewer(await logged_in_user(request), case_id)
        return _pdf(fee.stored_name, f"invoice-{fee.invoice_number}.pdf")

    @post("/proposals/{proposal_id:int}/close-decisions", name="close_decisions")
    async def close_decisions(self, request: Request[Any, Any, Any], proposal_id: RowId) -> Response[Any]:
        proposal = await do_close_decisions(await logged_in_user(request), proposal_id)
        return redirect_to(request, "list_agreements", case_id=proposal.case, query="closing=1")


class AgreementController(Controller):
    """One consumer's agreement: its page with the file's fingerprint, its download, its signature."""

    path = "/agreements"
    guards = [requires_login]

    async def _show(self, request: Request[Any, Any, Any], agreement_id: int, *, errors: FormErrors | None = None,
                    status_code: int = 200) -> Response[str]:
        return await page(request, "agreements/show.html", block="sign_form", status_code=status_code,
                          **await agreement_page(await logged_in_user(request), agreement_id),
                          errors=errors or FormErrors())

    @get("/{agreement_id:int}", name="show_agreement")
    async def show_agreement(self, request: Request[Any, Any, Any], agreement_id: RowId) -> Response[str]:
        return await self._show(request, agreement_id)

    @get("/{agreement_id:int}/pdf", name="download_agreement")
    async def download_agreement(self, request: Request[Any, Any, Any], agreement_id: RowId) -> File:
        agreement = (await agreement_for_viewer(await logged_in_user(request), agreement_id))[1]
        return _pdf(agreement.stored_name, f"agreement-{agreement_id}.pdf")

    @post("/{agreement_id:int}/sign", name="sign_agreement")
    async def sign_agreement(self, request: Request[Any, Any, Any], agreement_id: RowId) -> Response[Any]:
        form = await read_form(request)
        ip, user_agent = _client(request)
        errors = await do_sign_agreement(await logged_in_user(request), agreement_id, form.text("password"), ip=ip,
                                         user_agent=user_agent)
        if errors:
            return await self._show(request, agreement_id, errors=errors, status_code=422)
        return redirect_to(request, "show_agreement", agreement_id=agreement_id, query="signed=1")


class CertificateController(Controller):
    """A certificate of non-agreement: its consumer, the case's mediator and staff (404 for anyone else)."""

    path = "/certificates"
    guards = [requires_login]

    @get("/{certificate_id:int}", name="download_certificate")
    async def download_certificate(self, request: Request[Any, Any, Any], certificate_id: RowId) -> File:
        certificate = await certificate_for_viewer(await logged_in_user(request), certificate_id)
        return _pdf(certificate.stored_name, f"certificate-{certificate_id}.pdf")

