"""Factories for companies, cases, claims and evidence files (consumer side)."""

from __future__ import annotations

import contextlib
import html
import secrets
import struct
import zlib
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

from litestar import Litestar
from litestar.testing import AsyncTestClient

from app.actions.cases import OpenCaseForm, do_open_case
from app.tables import Case, Claim, Company
from tests.fixtures import Account, build_app, login

TODAY = date.today()


def claim_values(**overrides: str) -> dict[str, str]:
    """A valid claim form, as a consumer would fill it in."""
    values = {
        "facts": "J'ai payé mon billet 320 € et le vol a été annulé sans remboursement depuis trois mois.",
        "amount": "320,00",
        "incident_date": (TODAY - timedelta(days=90)).isoformat(),
        "complaint_date": (TODAY - timedelta(days=60)).isoformat(),
    }
    return values | overrides


def case_values(**overrides: str) -> dict[str, str]:
    values = {
        "title": "Vols annulés non remboursés",
        "problem": "La compagnie annule des vols et ne rembourse pas les billets malgré les réclamations écrites.",
        "category": "travel",
        "demand": "Le remboursement intégral des billets et l'indemnité prévue par le règlement européen.",
    }
    return values | overrides


async def make_company(name: str | None = None, *, verified: bool = False, **fields: Any) -> Company:
    company = Company(name=name or f"Compagnie {secrets.token_hex(4)}",
                      verified_at=datetime.now(UTC) if verified else None, **fields)
    await company.save()
    return company


async def make_case(opener: Account, company: Company | None = None, *, status: str | None = None,
                    **overrides: str) -> tuple[Case, Claim]:
    """A case opened by `opener` (with their claim), through the real action; optionally moved to `status`."""
    company = company or await make_company()
    form = OpenCaseForm(company_id=company.id, confirm_new=True, **(case_values() | claim_values() | overrides))
    result = await do_open_case(opener.user, form)
    assert not result.errors, result.errors.fields
    if status is not None:
        await Case.update({Case.status: status}).where(Case.id == result.case_id)
    case = await Case.objects().where(Case.id == result.case_id).first()
    claim = await Claim.objects().where(Claim.id == result.claim_id).first()
    assert case is not None and claim is not None
    return case, claim


def pdf_bytes(size: int = 0) -> bytes:
    """A small, valid-looking PDF (padded to `size` bytes when asked)."""
    body = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
    return body + b"%" + b"x" * max(0, size - len(body) - 2) + b"\n" if size else body


def png_bytes() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\x00\x00")) + chunk(b"IEND", b""))


JPEG_BYTES = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00\xff\xd9"
EXE_BYTES = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 64


@contextlib.asynccontextmanager
async def logged_in(account: Account, *, language: str = "en") -> AsyncIterator[AsyncTestClient[Litestar]]:
    """A browser of its own for this account, logged in, in English unless told otherwise."""
    async with AsyncTestClient(app=build_app(), base_url="http://testserver.local") as browser:
        browser.cookies.set("lang", language)
        await login(browser, account.email)
        yield browser


HTMX = {"HX-Request": "true"}


def is_fragment(html: str, element_id: str) -> bool:
    """An HTMX region answer: the element, and not a whole page."""
    return "<html" not in html and f'id="{element_id}"' in html


def visible(response: Any) -> str:
    """The response's HTML with entities decoded, for assertions on the text people read."""
    return html.unescape(response.text)
