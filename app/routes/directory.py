"""The companies directory: find a company, see its open cases, open a case against it."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, get
from litestar.params import Parameter

from app.actions.access import is_company_member
from app.actions.cases import search_cases
from app.actions.companies import company_or_404
from app.actions.directory import DIRECTORY_PAGE
from app.actions.directory import list_companies as find_companies
from app.http.auth import current_user, requires_login
from app.http.web import RowId, page
from app.tables import Role

Offset = Annotated[int, Parameter(ge=0, le=3000)]
ShortText = Annotated[str | None, Parameter(max_length=300)]


class CompanyDirectoryController(Controller):
    path = "/companies"
    guards = [requires_login]

    @get("/", name="list_companies")
    async def list_companies(self, request: Request[Any, Any, Any], q: ShortText = None,
                             offset: Offset = 0) -> Response[str]:
        query = (q or "")[:100]
        companies, has_more = await find_companies(query, offset=offset)
        return await page(request, "directory/index.html", block="company_results", q=query, companies=companies,
                          has_more=has_more, offset=offset, page_size=DIRECTORY_PAGE)

    @get("/{company_id:int}", name="show_company")
    async def show_company(self, request: Request[Any, Any, Any], company_id: RowId) -> Response[str]:
        user = await current_user(request)
        assert user is not None  # guarded
        company = await company_or_404(company_id)
        # Its listed cases, to those who may see them: consumers (to join one), staff, the company itself.
        sees_cases = user.role in (Role.consumer, Role.staff) or await is_company_member(user, company.id)
        result = await search_cases(company_id=company.id) if sees_cases else None
        return await page(request, "directory/show.html", company=company, result=result,
                          is_consumer=user.role == Role.consumer, is_staff=user.role == Role.staff)
