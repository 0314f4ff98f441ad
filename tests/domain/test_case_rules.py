"""What valid company, case and claim input is, and what a consumer must do next."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from app import i18n
from app.domain.accounts import FormErrors
from app.domain.cases import (
    AMOUNT_MAX_CENTS,
    check_case,
    check_claim,
    check_company,
    clean_line,
    clean_text,
    complaint_too_old,
    consumer_todos,
    format_amount,
    next_deadline,
    parse_amount,
    parse_date,
    siren_is_valid,
)

TODAY = date(2026, 11, 27)


@pytest.fixture(autouse=True)
def english() -> None:
    i18n.activate("en")


@pytest.mark.parametrize(("typed", "cents"), [
    ("149,90", 14990), ("149.9", 14990), ("1 249,90 €", 124990), ("1\u202f249,90", 124990), ("320", 32000),
    ("0,01", 1), ("1000000", AMOUNT_MAX_CENTS), ("EUR 12", 1200), ("007", 700),
])
def test_amounts_as_people_type_them(typed: str, cents: int) -> None:
    assert parse_amount(typed) == (cents, "")


@pytest.mark.parametrize(("typed", "message"), [
    ("", "Please enter the amount"), ("-50", "cannot be negative"), ("0", "more than 0"), ("0,00", "more than 0"),
    ("1000000,01", "at most 1,000,000"), ("99999999999", "with at most two decimals"), ("12,345", "two decimals"),
    ("1e6", "two decimals"), ("NaN", "two decimals"), ("12,5,0", "two decimals"), ("١٢٣", "two decimals"),
])
def test_bad_amounts_are_refused_with_a_reason(typed: str, message: str) -> None:
    cents, error = parse_amount(typed)
    assert cents is None and message in error


def test_amounts_are_shown_in_each_language() -> None:
    assert format_amount(1234567, "fr") == "12\u202f345,67\u00a0€"
    assert format_amount(1234567, "en") == "€12,345.67"


@pytest.mark.parametrize(("typed", "expected"), [
    ("2026-01-31", date(2026, 1, 31)), ("31/01/2026", date(2026, 1, 31)), ("1/2/2026", date(2026, 2, 1)),
    ("2026-02-30", None), ("31/13/2026", None), ("yesterday", None), ("", None), ("2026-1-1", None),
])
def test_dates(typed: str, expected: date | None) -> None:
    assert parse_date(typed) == expected


def claim_errors(**overrides: str) -> FormErrors:
    values = {"facts": "Le vol a été annulé et rien n'a été remboursé.", "amount": "320",
              "incident_date": "2026-08-01", "complaint_date": "2026-09-01"} | overrides
    errors = FormErrors()
    check_claim(values["facts"], values["amount"], values["incident_date"], values["complaint_date"], errors,
                today=TODAY)
    return errors


def test_a_good_claim_has_no_errors() -> None:
    assert not claim_errors()


@pytest.mark.parametrize(("overrides", "field", "message"), [
    ({"incident_date": "2026-11-28"}, "incident_date", "in the future"),
    ({"complaint_date": "2027-01-01"}, "complaint_date", "in the future"),
    ({"incident_date": "1999-12-31"}, "incident_date", "too far in the past"),
    ({"complaint_date": "2026-07-01"}, "complaint_date", "earlier than the purchase"),
    ({"complaint_date": ""}, "complaint_date", "written complaint"),
    ({"incident_date": "31/02/2026"}, "incident_date", "such as 31/01/2026"),
    ({"facts": "trop court"}, "facts", "at least 20"),
    ({"facts": "x" * 5001}, "facts", "at most 5000"),
    ({"amount": "-1"}, "amount", "negative"),
])
def test_bad_claims_name_the_field(overrides: dict[str, str], field: str, message: str) -> None:
    errors = claim_errors(**overrides)
    assert message in errors.get(field), errors.fields


def test_today_is_allowed() -> None:
    assert not claim_errors(incident_date=TODAY.isoformat(), complaint_date=TODAY.isoformat())


def test_case_fields() -> None:
    errors = FormErrors()
    case = check_case("  Vols   annulés\u202e ", "x" * 19, "spaceships", "", errors)
    assert case.title == "Vols annulés"
    assert set(errors.fields) == {"problem", "category", "demand"}


def test_text_is_cleaned_but_keeps_paragraphs() -> None:
    assert clean_text("a\r\n\r\n\r\n\r\nb\x00c  d\u202e") == "a\n\nb c d"
    assert clean_line("a\nb\tc") == "a b c"


@pytest.mark.parametrize(("siren", "valid"), [
    ("552081317", True), ("732829320", True), ("552081318", False), ("12345678", False), ("abcdefghi", False),
])
def test_siren_luhn(siren: str, valid: bool) -> None:
    assert siren_is_valid(siren) is valid


def test_company_fields() -> None:
    errors = FormErrors()
    company = check_company(" EDF ", "552 081 317", "www.edf.fr", "Service.Client@EDF.fr", errors)
    assert not errors and company.name == "EDF" and company.siren == "552081317"
    assert company.website == "https://www.edf.fr" and company.contact_email == "service.client@edf.fr"
    errors = FormErrors()
    check_company("", "552081318", "javascript:alert(1)", "not-an-email", errors)
    assert set(errors.fields) == {"company_name", "company_siren", "company_website", "company_contact_email"}


def test_a_complaint_older_than_a_year_is_flagged() -> None:
    assert complaint_too_old(date(2025, 11, 26), TODAY)
    assert not complaint_too_old(date(2025, 11, 28), TODAY)


@pytest.mark.parametrize(("claim_status", "case_status", "proof", "evidence", "opted_in", "expected"), [
    ("submitted", "open", False, 0, False, ["add_complaint_proof", "add_evidence"]),
    ("submitted", "open", True, 2, False, []),
    ("needs_info", "open", True, 1, False, ["complete_claim"]),
    ("needs_info", "invited", False, 1, False, ["complete_claim", "add_complaint_proof"]),
    ("admitted", "in_mediation", False, 0, False, []),
    ("admitted", "refused", True, 1, False, ["consider_escalation"]),
    ("admitted", "refused", True, 1, True, []),
    ("rejected", "refused", True, 1, False, []),
    ("withdrawn", "open", False, 0, False, []),
])
def test_what_the_consumer_must_do_now(claim_status: str, case_status: str, proof: bool, evidence: int,
                                       opted_in: bool, expected: list[str]) -> None:
    todos = consumer_todos(claim_id=7, claim_status=claim_status, case_status=case_status,
                           has_complaint_proof=proof, evidence_count=evidence, escalation_opted_in=opted_in)
    assert [todo.code for todo in todos] == expected
    assert all(todo.link.startswith("/claims/7") for todo in todos)


def test_the_next_deadline() -> None:
    submitted = datetime(2026, 11, 1, tzinfo=UTC)
    company_deadline = submitted + timedelta(days=30)
    ends_at = submitted + timedelta(days=90)

    def deadline(case_status: str, claim_status: str) -> tuple[str, datetime] | None:
        found = next_deadline(case_status=case_status, claim_status=claim_status, submitted_at=submitted,
                              company_deadline=company_deadline, ends_at=ends_at)
        return (found.code, found.due) if found else None

    assert deadline("open", "submitted") == ("review", submitted + timedelta(weeks=3))
    assert deadline("invited", "admitted") == ("company_answer", company_deadline)
    assert deadline("in_mediation", "admitted") == ("mediation_end", ends_at)
    assert deadline("open", "admitted") is None
    assert deadline("in_mediation", "withdrawn") is None
