"""Pure rules for companies, cases and claims as consumers fill them in: what valid input is. No I/O."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from urllib.parse import urlsplit

from app.domain.accounts import FormErrors, normalize_email
from app.domain.lifecycle import CaseStatus, ClaimStatus
from app.i18n import _

COMPANY_NAME_MAX = 120
WEBSITE_MAX = 200
TITLE_MIN, TITLE_MAX = 8, 160
PROBLEM_MIN, PROBLEM_MAX = 20, 5000
DEMAND_MIN, DEMAND_MAX = 5, 2000
FACTS_MIN, FACTS_MAX = 20, 5000
AMOUNT_MAX_CENTS = 100_000_000  # one million euros: beyond, a consumer dispute is not what this is for
OLDEST_DATE = date(2000, 1, 1)
REVIEW_WITHIN = timedelta(weeks=3)  # L612-2: the consumer hears about admissibility within 3 weeks
COMPLAINT_VALID_FOR = timedelta(days=365)  # L612-2: at most one year after the written complaint

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")
_AMOUNT = re.compile(r"\d{1,9}(?:[.,]\d{1,2})?", re.ASCII)
_SPACES = re.compile(r"[\s\u00a0\u202f']+")
_SIREN = re.compile(r"\d{9}", re.ASCII)
_DMY = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})", re.ASCII)

# Categories of dispute; codes are stored, labels are translated when shown.
CATEGORIES: tuple[str, ...] = (
    "energy", "telecom", "transport", "travel", "banking", "insurance", "online_shopping", "retail",
    "housing", "vehicles", "health", "leisure", "other",
)


def category_label(code: str) -> str:
    labels = {
        "energy": _("Energy (electricity, gas)"), "telecom": _("Telephone and internet"),
        "transport": _("Transport"), "travel": _("Travel and holidays"), "banking": _("Bank"),
        "insurance": _("Insurance"), "online_shopping": _("Online shopping"), "retail": _("Shops"),
        "housing": _("Housing and building works"), "vehicles": _("Cars and vehicles"),
        "health": _("Health"), "leisure": _("Leisure and subscriptions"), "other": _("Other"),
    }
    return labels.get(code, _("Other"))


def case_status_label(status: str) -> str:
    labels = {
        CaseStatus.open: _("Gathering claims"), CaseStatus.invited: _("Company invited"),
        CaseStatus.accepted: _("Company accepted mediation"), CaseStatus.refused: _("Company refused mediation"),
        CaseStatus.in_mediation: _("Mediation in progress"), CaseStatus.closed: _("Closed"),
    }
    return labels.get(status, status)  # type: ignore[call-overload, no-any-return]


def claim_status_label(status: str) -> str:
    labels = {
        ClaimStatus.submitted: _("Waiting for review"), ClaimStatus.needs_info: _("Information requested"),
        ClaimStatus.admitted: _("Admitted"), ClaimStatus.rejected: _("Not admitted"),
        ClaimStatus.withdrawn: _("Withdrawn"),
    }
    return labels.get(status, status)  # type: ignore[call-overload, no-any-return]


def clean_line(raw: str) -> str:
    """Single-line text: Unicode-normalized, control and bidi-override characters removed, spaces collapsed."""
    text = _CONTROL.sub(" ", unicodedata.normalize("NFC", raw or ""))
    return " ".join(text.split())


def clean_text(raw: str) -> str:
    """Multi-line text: the same, keeping line breaks (at most one blank line in a row)."""
    text = unicodedata.normalize("NFC", (raw or "").replace("\r\n", "\n").replace("\r", "\n"))
    lines = [" ".join(_CONTROL.sub(" ", line).split()) for line in text.split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def _check_length(value: str, errors: FormErrors, name: str, minimum: int, maximum: int, missing: str) -> None:
    if not value:
        errors.add(name, missing)
    elif len(value) < minimum:
        errors.add(name, _("Please write at least %(n)d characters.") % {"n": minimum})
    elif len(value) > maximum:
        errors.add(name, _("Please write at most %(n)d characters.") % {"n": maximum})


# --- companies ---------------------------------------------------------------------------------------

def siren_is_valid(siren: str) -> bool:
    """Nine digits passing the Luhn check, as INSEE issues them."""
    if not _SIREN.fullmatch(siren):
        return False
    total = 0
    for position, char in enumerate(reversed(siren)):
        digit = int(char) * (2 if position % 2 else 1)
        total += digit - 9 if digit > 9 else digit
    return total % 10 == 0


@dataclass
class CompanyInput:
    name: str = ""
    siren: str | None = None
    website: str = ""
    contact_email: str = ""


def check_company(name: str, siren: str, website: str, contact_email: str, errors: FormErrors,
                  prefix: str = "company_") -> CompanyInput:
    """A company a consumer adds to the directory (staff verify it later)."""
    company = CompanyInput(name=clean_line(name))
    if not company.name:
        errors.add(f"{prefix}name", _("Please enter the company's name."))
    elif len(company.name) < 2 or len(company.name) > COMPANY_NAME_MAX:
        errors.add(f"{prefix}name", _("The name must have between 2 and %(n)d characters.") % {"n": COMPANY_NAME_MAX})
    siren = _SPACES.sub("", siren or "")
    if siren:
        if siren_is_valid(siren):
            company.siren = siren
        else:
            errors.add(f"{prefix}siren", _("A SIREN number has 9 digits (on the company's invoices); this one is "
                                           "not valid. Leave it empty if you do not know it."))
    website = (website or "").strip()
    if website:
        if "://" not in website:
            website = "https://" + website
        parts = urlsplit(website) if len(website) <= WEBSITE_MAX else None
        host = parts.hostname if parts else None
        if (parts is None or parts.scheme not in {"http", "https"} or not host or "." not in host
                or _CONTROL.search(website) or " " in website):
            errors.add(f"{prefix}website", _("Please enter a web address such as www.example.fr."))
        else:
            company.website = website
    email = (contact_email or "").strip()
    if email:
        normalized = normalize_email(email)
        if normalized is None:
            errors.add(f"{prefix}contact_email", _("Please enter a valid e-mail address."))
        else:
            company.contact_email = normalized
    return company


# --- cases -------------------------------------------------------------------------------------------

@dataclass
class CaseInput:
    title: str = ""
    problem: str = ""
    category: str = ""
    demand: str = ""


def check_case(title: str, problem: str, category: str, demand: str, errors: FormErrors) -> CaseInput:
    case = CaseInput(title=clean_line(title), problem=clean_text(problem), category=category.strip(),
                     demand=clean_text(demand))
    _check_length(case.title, errors, "title", TITLE_MIN, TITLE_MAX,
                  _("Please give the case a short title that names the problem."))
    _check_length(case.problem, errors, "problem", PROBLEM_MIN, PROBLEM_MAX,
                  _("Please describe the problem shared by the consumers."))
    if case.category not in CATEGORIES:
        errors.add("category", _("Please choose a category."))
    _check_length(case.demand, errors, "demand", DEMAND_MIN, DEMAND_MAX,
                  _("Please say what you ask the company for (a refund, a repair…)."))
    return case


# --- claims ------------------------------------------------------------------------------------------

def parse_amount(raw: str) -> tuple[int | None, str]:
    """Euros as typed by a French or English speaker ("1 249,90", "1249.9 €") → (cents, error message)."""
    text = _SPACES.sub("", (raw or "").replace("€", "").replace("EUR", "").replace("eur", ""))
    if not text:
        return None, _("Please enter the amount at stake, in euros.")
    if text.startswith("-"):
        return None, _("The amount cannot be negative.")
    if not _AMOUNT.fullmatch(text):
        return None, _("Please enter an amount in euros, with at most two decimals, for example 149,90.")
    euros, _sep, cents = text.replace(",", ".").partition(".")
    value = int(euros) * 100 + int((cents + "00")[:2])
    if value <= 0:
        return None, _("The amount must be more than 0 €.")
    if value > AMOUNT_MAX_CENTS:
        return None, _("The amount may be at most 1,000,000 €. Please check it.")
    return value, ""


def format_amount(cents: int, language: str = "fr") -> str:
    """1234567 → "12 345,67 €" (French) or "€12,345.67" (English)."""
    euros, rest = divmod(int(cents), 100)
    if language == "en":
        return f"€{euros:,}.{rest:02d}"
    return f"{euros:,}".replace(",", "\u202f") + f",{rest:02d}\u00a0€"


def parse_date(raw: str) -> date | None:
    """A date from an <input type="date"> (YYYY-MM-DD) or typed by hand in old browsers (DD/MM/YYYY)."""
    text = (raw or "").strip()[:20]
    try:
        if match := _DMY.fullmatch(text):
            day, month, year = (int(group) for group in match.groups())
            return date(year, month, day)
        return date.fromisoformat(text) if len(text) == 10 else None
    except ValueError:
        return None


@dataclass
class ClaimInput:
    facts: str = ""
    amount_cents: int = 0
    incident_date: date | None = None
    complaint_date: date | None = None


def check_claim(facts: str, amount: str, incident_date: str, complaint_date: str, errors: FormErrors, *,
                today: date) -> ClaimInput:
    """One consumer's claim: their facts, the amount at stake, the dates of the incident and of the complaint."""
    claim = ClaimInput(facts=clean_text(facts))
    _check_length(claim.facts, errors, "facts", FACTS_MIN, FACTS_MAX,
                  _("Please describe what happened to you."))
    cents, message = parse_amount(amount)
    if cents is None:
        errors.add("amount", message)
    else:
        claim.amount_cents = cents
    for name, raw, missing in (
        ("incident_date", incident_date, _("Please enter the date of the purchase or of the incident.")),
        ("complaint_date", complaint_date, _("Please enter the date of your written complaint to the company.")),
    ):
        value = parse_date(raw)
        if not (raw or "").strip():
            errors.add(name, missing)
        elif value is None:
            errors.add(name, _("Please enter a date such as 31/01/2026."))
        elif value > today:
            errors.add(name, _("This date is in the future."))
        elif value < OLDEST_DATE:
            errors.add(name, _("This date is too far in the past."))
        else:
            setattr(claim, name, value)
    if claim.incident_date and claim.complaint_date and claim.complaint_date < claim.incident_date:
        errors.add("complaint_date", _("Your complaint cannot be earlier than the purchase or incident."))
    return claim


def complaint_too_old(complaint_date: date, today: date) -> bool:
    """L612-2: mediation may be refused more than a year after the written complaint."""
    return today - complaint_date > COMPLAINT_VALID_FOR


# --- the consumer's personal space -------------------------------------------------------------------

@dataclass(frozen=True)
class ToDo:
    """Something the consumer should do now: a code (for tests and styling) and where to do it."""

    code: str
    link: str


def consumer_todos(*, claim_id: int, claim_status: str, case_status: str, has_complaint_proof: bool,
                   evidence_count: int, escalation_opted_in: bool) -> list[ToDo]:
    """What a consumer must do now about their claim, most urgent first."""
    link = f"/claims/{claim_id}"
    if claim_status == ClaimStatus.withdrawn:
        return []
    todos: list[ToDo] = []
    if claim_status == ClaimStatus.needs_info:
        todos.append(ToDo("complete_claim", f"{link}/edit"))
    if claim_status in (ClaimStatus.submitted, ClaimStatus.needs_info):
        if not has_complaint_proof:
            todos.append(ToDo("add_complaint_proof", f"{link}#claim-evidence"))
        if evidence_count == 0:
            todos.append(ToDo("add_evidence", f"{link}#claim-evidence"))
    if case_status == CaseStatus.refused and claim_status != ClaimStatus.rejected and not escalation_opted_in:
        todos.append(ToDo("consider_escalation", link))
    return todos


def todo_label(code: str) -> str:
    labels = {
        "complete_claim": _("The reviewer asked for more information: complete your claim"),
        "add_complaint_proof": _("Add the proof of your written complaint to the company"),
        "add_evidence": _("Add your evidence (invoices, contract, letters…)"),
        "consider_escalation": _("The company refused mediation: see what you can do next"),
    }
    return labels.get(code, code)


@dataclass(frozen=True)
class Deadline:
    code: str
    due: datetime


def next_deadline(*, case_status: str, claim_status: str, submitted_at: datetime,
                  company_deadline: datetime | None, ends_at: datetime | None) -> Deadline | None:
    """The next date that matters to this consumer: review answer, company answer, or end of mediation."""
    if claim_status == ClaimStatus.withdrawn:
        return None
    if claim_status == ClaimStatus.submitted:
        return Deadline("review", submitted_at + REVIEW_WITHIN)
    if case_status == CaseStatus.invited and company_deadline is not None:
        return Deadline("company_answer", company_deadline)
    if case_status == CaseStatus.in_mediation and ends_at is not None:
        return Deadline("mediation_end", ends_at)
    return None


def deadline_label(code: str) -> str:
    labels = {
        "review": _("Answer on admissibility expected by"),
        "company_answer": _("The company must answer by"),
        "mediation_end": _("The mediation ends at the latest on"),
    }
    return labels.get(code, code)
