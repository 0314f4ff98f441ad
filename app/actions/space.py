"""The consumer's personal space: their cases and claims, what they must do now, and their documents."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from piccolo.query.functions.aggregate import Count

from app.domain.cases import Deadline, ToDo, consumer_todos, next_deadline
from app.domain.lifecycle import ClaimStatus
from app.tables import Claim, Evidence, User


@dataclass
class MyClaim:
    claim_id: int
    status: str
    amount_cents: int
    incident_date: date
    complaint_date: date
    submitted_at: datetime
    review_reason: str
    case_id: int
    case_title: str
    case_status: str
    company_name: str
    evidence_count: int = 0
    file_count: int = 0
    has_complaint_proof: bool = False
    deadline: Deadline | None = None
    todos: list[ToDo] = field(default_factory=list)

    @property
    def is_active(self) -> bool:
        return self.status not in (ClaimStatus.withdrawn, ClaimStatus.rejected)


async def my_claims(user: User) -> list[MyClaim]:
    """Every claim of this consumer with its case, newest first; ongoing ones before ended ones."""
    rows = await Claim.select(
        Claim.id, Claim.status, Claim.amount_cents, Claim.incident_date, Claim.complaint_date, Claim.submitted_at,
        Claim.review_reason, Claim.escalation_opt_in_at, Claim.case,
        Claim.case.title.as_alias("case_title"), Claim.case.status.as_alias("case_status"),
        Claim.case.company.name.as_alias("company_name"),  # type: ignore[union-attr]  # Piccolo types a join through two foreign keys as Column | Any
        Claim.case.company_deadline.as_alias("company_deadline"), Claim.case.ends_at.as_alias("ends_at"),
    ).where(Claim.consumer == user.id).order_by(Claim.id, ascending=False)
    counts: dict[tuple[int, str], int] = {}
    if rows:
        for row in await Evidence.select(Evidence.claim, Evidence.kind, Count(Evidence.id, alias="n")).where(
                Evidence.claim.is_in([row["id"] for row in rows])).group_by(Evidence.claim, Evidence.kind):
            counts[(row["claim"], row["kind"])] = row["n"]
    claims = []
    for row in rows:
        evidence = counts.get((row["id"], "evidence"), 0)
        proofs = counts.get((row["id"], "complaint"), 0)
        proof = proofs > 0
        claims.append(MyClaim(
            claim_id=row["id"], status=row["status"], amount_cents=row["amount_cents"],
            incident_date=row["incident_date"], complaint_date=row["complaint_date"],
            submitted_at=row["submitted_at"], review_reason=row["review_reason"], case_id=row["case"],
            case_title=row["case_title"], case_status=row["case_status"], company_name=row["company_name"],
            evidence_count=evidence, file_count=evidence + proofs, has_complaint_proof=proof,
            deadline=next_deadline(case_status=row["case_status"], claim_status=row["status"],
                                   submitted_at=row["submitted_at"], company_deadline=row["company_deadline"],
                                   ends_at=row["ends_at"]),
            todos=consumer_todos(claim_id=row["id"], claim_status=row["status"], case_status=row["case_status"],
                                 has_complaint_proof=proof, evidence_count=evidence,
                                 escalation_opted_in=row["escalation_opt_in_at"] is not None),
        ))
    claims.sort(key=lambda claim: not claim.is_active)  # stable: newest first within each group
    return claims


@dataclass
class MyDocument:
    id: int
    name: str
    kind: str
    content_type: str
    size_bytes: int
    uploaded_at: datetime
    claim_id: int
    case_title: str


async def my_documents(user: User) -> list[MyDocument]:
    """Every file this consumer attached to their claims, newest first."""
    rows = await Evidence.select(
        Evidence.id, Evidence.original_name, Evidence.kind, Evidence.content_type, Evidence.size_bytes,
        Evidence.uploaded_at, Evidence.claim, Evidence.claim.case.title.as_alias("case_title"),  # type: ignore[union-attr]  # Piccolo types a join through two foreign keys as Column | Any
    ).where(Evidence.claim.consumer == user.id).order_by(Evidence.id, ascending=False)
    return [MyDocument(id=row["id"], name=row["original_name"], kind=row["kind"], content_type=row["content_type"],
                       size_bytes=row["size_bytes"], uploaded_at=row["uploaded_at"], claim_id=row["claim"],
                       case_title=row["case_title"]) for row in rows]
