"""The consumer's personal space: my cases (with what to do now), my claims, my documents."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get

from app.actions.room import unread_by_case
from app.actions.space import my_claims, my_documents
from app.http.auth import logged_in_user, requires_role
from app.http.web import page, redirect_to
from app.tables import Role


class MySpaceController(Controller):
    path = "/my"
    guards = [requires_role(Role.consumer)]

    @get("/", name="show_my_space")
    async def show_my_space(self, request: Request[Any, Any, Any]) -> Response[Any]:
        return redirect_to(request, "list_my_cases")

    @get("/cases", name="list_my_cases")
    async def list_my_cases(self, request: Request[Any, Any, Any]) -> Response[str]:
        user = await logged_in_user(request)
        claims = await my_claims(user)
        return await page(request, "space/cases.html", claims=claims, tab="cases",
                          room_unread=await unread_by_case(user))

    @get("/claims", name="list_my_claims")
    async def list_my_claims(self, request: Request[Any, Any, Any]) -> Response[str]:
        claims = await my_claims(await logged_in_user(request))
        return await page(request, "space/claims.html", claims=claims, tab="claims")

    @get("/documents", name="list_my_documents")
    async def list_my_documents(self, request: Request[Any, Any, Any]) -> Response[str]:
        documents = await my_documents(await logged_in_user(request))
        return await page(request, "space/documents.html", documents=documents, tab="documents")
