"""Proposals of a case: the list with the form for a new one, one version with its notices, the vote and the
decision, amendments, withdrawal, and the mediator's live tally. Access is checked in app.actions.proposals."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.exceptions import NotFoundException

from app import i18n
from app.actions.access import case_access
from app.actions.errors import Refused
from app.actions.proposals import (
    do_amend_proposal,
    do_close_vote,
    do_create_proposal,
    do_decide,
    do_vote,
    do_withdraw_proposal,
    may_amend,
    proposal_for_party,
    proposal_party,
    proposal_view,
    proposals_list,
)
from app.domain.accounts import FormErrors
from app.domain.proposals import (
    DEFAULT_THRESHOLD_PCT,
    MAX_COMMENT_CHARS,
    MAX_ITEM_CHARS,
    MAX_TERMS_CHARS,
    ProposalDraft,
    format_amount_input,
    format_share_input,
)
from app.formatting import PARIS
from app.http.auth import logged_in_user, requires_login
from app.http.forms import FormData, read_form
from app.http.web import RowId, page, redirect_to
from app.tables import Proposal

DRAFT_FIELDS = ("terms", "rule_kind", "amount", "share", "item", "vote_closes_at", "decide_by", "threshold")
LIMITS = {"max_terms": MAX_TERMS_CHARS, "max_item": MAX_ITEM_CHARS, "max_comment": MAX_COMMENT_CHARS}



def _draft(form: FormData) -> ProposalDraft:
    return ProposalDraft(**{name: form.text(name) for name in DRAFT_FIELDS})


def _typed(form: FormData) -> dict[str, str]:
    """What was typed, given back to the form (cut to a sane length)."""
    return {name: form.text(name)[:MAX_TERMS_CHARS * 2] for name in DRAFT_FIELDS}


def _local(value: Any) -> str:
    return value.astimezone(PARIS).strftime("%Y-%m-%dT%H:%M")


def values_of(proposal: Proposal) -> dict[str, str]:
    """A version's values as the amendment form shows them first."""
    language = i18n.current_language()
    return {"terms": proposal.terms, "rule_kind": proposal.rule_kind,
            "amount": format_amount_input(proposal.fixed_cents, language) if proposal.fixed_cents else "",
            "share": format_share_input(proposal.share_basis_points, language) if proposal.share_basis_points else "",
            "item": proposal.item, "vote_closes_at": _local(proposal.vote_closes_at),
            "decide_by": _local(proposal.decide_by), "threshold": str(proposal.vote_threshold_pct)}


class ProposalController(Controller):
    """Proposals, for the parties of a case in mediation (404 for anyone else)."""

    guards = [requires_login]

    # --- the list, and a new proposal -------------------------------------------------------------------

    @get("/cases/{case_id:int}/proposals", name="list_proposals")
    async def list_proposals(self, request: Request[Any, Any, Any], case_id: RowId) -> Response[str]:
        return await self._list_page(request, case_id)

    async def _list_page(self, request: Request[Any, Any, Any], case_id: int, *, values: dict[str, str] | None = None,
                         errors: FormErrors | None = None, status_code: int = 200) -> Response[str]:
        party = await proposal_party(await logged_in_user(request), case_id)
        context = await proposals_list(party)
        return await page(request, "proposals/list_proposals.html", block="proposal_form", status_code=status_code,
                          values=values or {"threshold": str(DEFAULT_THRESHOLD_PCT), "rule_kind": "fixed"},
                          errors=errors or FormErrors(), **context, **LIMITS)

    @post("/cases/{case_id:int}/proposals", name="create_proposal")
    async def create_proposal(self, request: Request[Any, Any, Any], case_id: RowId) -> Response[Any]:
        form = await read_form(request)
        errors, proposal = await do_create_proposal(await logged_in_user(request), case_id, _draft(form))
        if errors or proposal is None:
            return await self._list_page(request, case_id, values=_typed(form), errors=errors, status_code=422)
        return redirect_to(request, "show_proposal", proposal_id=proposal.id, query="made=1")

    # --- one version -----------------------------------------------------------------------------------------

    @get("/proposals/{proposal_id:int}", name="show_proposal")
    async def show_proposal(self, request: Request[Any, Any, Any], proposal_id: RowId) -> Response[str]:
        return await self._show_page(request, proposal_id)

    async def _show_page(self, request: Request[Any, Any, Any], proposal_id: int, *, status_code: int = 200,
                         block: str | None = None, refusal: str = "", refusal_at: str = "",
                         vote_errors: FormErrors | None = None, vote_values: dict[str, str] | None = None
                         ) -> Response[str]:
        user = await logged_in_user(request)
        party, proposal = await proposal_for_party(user, proposal_id)
        context = await proposal_view(party, proposal)
        context["access"] = await case_access(user, party.case.id)  # for the agreements' controls
        return await page(request, "proposals/show_proposal.html", block=block, status_code=status_code,
                          refusal=refusal, refusal_at=refusal_at, vote_errors=vote_errors or FormErrors(),
                          vote_values=vote_values or {}, **context, **LIMITS)

    @get("/proposals/{proposal_id:int}/tally", name="show_tally")
    async def show_tally(self, request: Request[Any, Any, Any], proposal_id: RowId) -> Response[str]:
        """The mediator's live tally (what HTMX polls); anyone else gets 404."""
        party, _proposal = await proposal_for_party(await logged_in_user(request), proposal_id)
        if not party.is_mediator:
            raise NotFoundException()
        return await self._show_page(request, proposal_id, block="live_tally")

    # --- amending, withdrawing, closing the vote ---------------------------------------------------------

    @get("/proposals/{proposal_id:int}/edit", name="edit_proposal")
    async def edit_proposal(self, request: Request[Any, Any, Any], proposal_id: RowId) -> Response[str]:
        return await self._edit_page(request, proposal_id)

    async def _edit_page(self, request: Request[Any, Any, Any], proposal_id: int, *,
                         values: dict[str, str] | None = None, errors: FormErrors | None = None,
                         status_code: int = 200) -> Response[str]:
        party, proposal = await proposal_for_party(await logged_in_user(request), proposal_id)
        if not (party.is_mediator or party.is_company):
            raise NotFoundException()
        if not may_amend(party, proposal):
            raise Refused(i18n._("This proposal can no longer be amended (a newer version exists, or it is "
                                 "closed), or it is not yours to amend."), 409)
        return await page(request, "proposals/edit_proposal.html", block="proposal_form", status_code=status_code,
                          case=party.case, party=party, proposal=proposal, values=values or values_of(proposal),
                          errors=errors or FormErrors(), **LIMITS)

    @post("/proposals/{proposal_id:int}/versions", name="create_version")
    async def create_version(self, request: Request[Any, Any, Any], proposal_id: RowId) -> Response[Any]:
        form = await read_form(request)
        errors, new = await do_amend_proposal(await logged_in_user(request), proposal_id, form.text("version"),
                                              _draft(form))
        if errors or new is None:
            return await self._edit_page(request, proposal_id, values=_typed(form), errors=errors, status_code=422)
        return redirect_to(request, "show_proposal", proposal_id=new.id, query="amended=1")

    @post("/proposals/{proposal_id:int}/withdraw", name="withdraw_proposal")
    async def withdraw_proposal(self, request: Request[Any, Any, Any], proposal_id: RowId) -> Response[Any]:
        proposal = await do_withdraw_proposal(await logged_in_user(request), proposal_id)
        return redirect_to(request, "list_proposals", case_id=proposal.case, query="withdrawn=1")

    @post("/proposals/{proposal_id:int}/vote/close", name="close_vote")
    async def close_vote(self, request: Request[Any, Any, Any], proposal_id: RowId) -> Response[Any]:
        await do_close_vote(await logged_in_user(request), proposal_id)
        return redirect_to(request, "show_proposal", proposal_id=proposal_id, query="vote_closed=1")

    # --- the consumers' answers --------------------------------------------------------------------------

    @post("/proposals/{proposal_id:int}/votes", name="create_vote")
    async def create_vote(self, request: Request[Any, Any, Any], proposal_id: RowId) -> Response[Any]:
        form = await read_form(request)
        values = {"choice": form.text("choice"), "comment": form.text("comment")[:MAX_COMMENT_CHARS * 2]}
        try:
            errors = await do_vote(await logged_in_user(request), proposal_id, version=form.text("version"),
                                   choice=form.text("choice"), comment=form.text("comment"))
        except Refused as error:
            return await self._show_page(request, proposal_id, status_code=error.status_code, refusal=error.message,
                                         refusal_at="vote", vote_values=values)
        if errors:
            return await self._show_page(request, proposal_id, status_code=422, vote_errors=errors,
                                         vote_values=values)
        return redirect_to(request, "show_proposal", proposal_id=proposal_id, query="voted=1", fragment="vote")

    @post("/proposals/{proposal_id:int}/decisions", name="create_decision")
    async def create_decision(self, request: Request[Any, Any, Any], proposal_id: RowId) -> Response[Any]:
        form = await read_form(request)
        try:
            await do_decide(await logged_in_user(request), proposal_id, version=form.text("version"),
                            choice=form.text("choice"), amount=form.text("amount"), shown=form.text("shown"))
        except Refused as error:
            return await self._show_page(request, proposal_id, status_code=error.status_code, refusal=error.message,
                                         refusal_at="decision")
        return redirect_to(request, "show_proposal", proposal_id=proposal_id, query="decided=1", fragment="decision")
