"""Agreements, certificates, the collective record and the invoice: the pages, the downloads (only for those
entitled, 404 for anyone else), the consumer's signature, the company's countersignature, and the mediator's
"close the decisions now"."""

from __future__ import annotations

import asyncio
from typing import Any

from litestar import Controller, Request, Response, get, post

from app.actions.agreements import (
    agreement_for_viewer,
    agreements_access,
    agreements_page,
    do_close_decisions,
    do_countersign,
    do_sign_agreement,
    fee_for_viewer,
    record_for_viewer,
    signing_state,
)
from app.actions.certificates import certificate_for_viewer
from app.actions.mediation import PAGE_HELPERS
from app.auth import current_user, requires_login
from app.documents import read_document
from app.domain.accounts import FormErrors
from app.forms import read_form
from app.routes.mediators import REFUSALS
from app.tables import Claim, User
from app.web import RowId, page, redirect


async def _user(request: Request[Any, Any, Any]) -> User:
    user = await current_user(request)
    assert user is not None  # guarded
    return user


def _client(request: Request[Any, Any, Any]) -> tuple[str, str]:
    """The address and browser recorded with a signature."""
    host = request.client.host if request.client else ""
    return host[:64], request.headers.get("user-agent", "")[:400]


async def _pdf(stored_name: str, filename: str) -> Response[bytes]:
    content = await asyncio.to_thread(read_document, stored_name)
    return Response(content, media_type="application/pdf", headers={
        "Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "private, no-store",
        "X-Content-Type-Options": "nosniff"})


class CaseAgreementsController(Controller):
    """A case's agreements, its collective record and its invoice; the countersignature; closing decisions."""

    guards = [requires_login]
    exception_handlers = REFUSALS  # type: ignore[assignment]

    @get("/cases/{case_id:int}/agreements", name="list_agreements")
    async def list_agreements(self, request: Request[Any, Any, Any], case_id: RowId) -> Response[str]:
        access = await agreements_access(await _user(request), case_id)
        return await page(request, "agreements/index.html", block="agreements_panel", **await agreements_page(access),
                          **PAGE_HELPERS)

    @post("/cases/{case_id:int}/agreements/countersign", name="countersign_agreements")
    async def countersign_agreements(self, request: Request[Any, Any, Any], case_id: RowId) -> Response[Any]:
        ip, user_agent = _client(request)
        await do_countersign(await _user(request), case_id, ip=ip, user_agent=user_agent)
        return redirect(request, f"/cases/{case_id}/agreements?countersigned=1")

    @get("/cases/{case_id:int}/agreements/record", name="download_collective_record")
    async def download_collective_record(self, request: Request[Any, Any, Any], case_id: RowId) -> Response[bytes]:
        found = await record_for_viewer(await _user(request), case_id)
        return await _pdf(found.stored_name, f"collective-record-{case_id}.pdf")

    @get("/cases/{case_id:int}/invoice", name="download_invoice")
    async def download_invoice(self, request: Request[Any, Any, Any], case_id: RowId) -> Response[bytes]:
        fee = await fee_for_viewer(await _user(request), case_id)
        return await _pdf(fee.stored_name, f"invoice-{fee.invoice_number}.pdf")

    @post("/proposals/{proposal_id:int}/close-decisions", name="close_decisions")
    async def close_decisions(self, request: Request[Any, Any, Any], proposal_id: RowId) -> Response[Any]:
        proposal = await do_close_decisions(await _user(request), proposal_id)
        return redirect(request, f"/cases/{proposal.case}/agreements?closing=1")


class AgreementController(Controller):
    """One consumer's agreement: its page with the file's fingerprint, its download, its signature."""

    path = "/agreements"
    guards = [requires_login]
    exception_handlers = REFUSALS  # type: ignore[assignment]

    async def _show(self, request: Request[Any, Any, Any], agreement_id: int, *, errors: FormErrors | None = None,
                    status_code: int = 200) -> Response[str]:
        user = await _user(request)
        access, agreement = await agreement_for_viewer(user, agreement_id)
        claim = await Claim.select(Claim.status).where(Claim.id == agreement.claim).first()
        consumer = await User.select(User.display_name).where(User.id == agreement.consumer).first()
        state = await signing_state(access.case.id)
        open_to_sign = (agreement.consumer == user.id and agreement.signed_at is None and claim is not None
                        and claim["status"] == "admitted" and state.record is not None
                        and state.record.countersigned_at is None)
        return await page(request, "agreements/show.html", block="sign_form", status_code=status_code,
                          case=access.case, agreement=agreement, consumer_name=consumer["display_name"] if consumer
                          else "", is_owner=agreement.consumer == user.id, can_sign=open_to_sign, state=state,
                          errors=errors or FormErrors(), **PAGE_HELPERS)

    @get("/{agreement_id:int}", name="show_agreement")
    async def show_agreement(self, request: Request[Any, Any, Any], agreement_id: RowId) -> Response[str]:
        return await self._show(request, agreement_id)

    @get("/{agreement_id:int}/pdf", name="download_agreement")
    async def download_agreement(self, request: Request[Any, Any, Any], agreement_id: RowId) -> Response[bytes]:
        agreement = (await agreement_for_viewer(await _user(request), agreement_id))[1]
        return await _pdf(agreement.stored_name, f"agreement-{agreement_id}.pdf")

    @post("/{agreement_id:int}/sign", name="sign_agreement")
    async def sign_agreement(self, request: Request[Any, Any, Any], agreement_id: RowId) -> Response[Any]:
        form = await read_form(request)
        ip, user_agent = _client(request)
        errors = await do_sign_agreement(await _user(request), agreement_id, form.text("password"), ip=ip,
                                         user_agent=user_agent)
        if errors:
            return await self._show(request, agreement_id, errors=errors, status_code=422)
        return redirect(request, f"/agreements/{agreement_id}?signed=1")


class CertificateController(Controller):
    """A certificate of non-agreement: its consumer, the case's mediator and staff (404 for anyone else)."""

    path = "/certificates"
    guards = [requires_login]

    @get("/{certificate_id:int}", name="download_certificate")
    async def download_certificate(self, request: Request[Any, Any, Any], certificate_id: RowId) -> Response[bytes]:
        certificate = await certificate_for_viewer(await _user(request), certificate_id)
        return await _pdf(certificate.stored_name, f"certificate-{certificate_id}.pdf")

