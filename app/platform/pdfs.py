"""The documents the platform produces, as PDF bytes: agreements, collective records, certificates of
non-agreement and invoices, in French or English.

Drawn straight on a reportlab canvas with the standard fonts (WinAnsi covers French text, œ and €), which
takes a few milliseconds per page; `invariant` mode leaves out the creation time and random file id, so the
same content gives the same bytes.
"""

from __future__ import annotations

import hashlib
import io
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import lru_cache

from reportlab import rl_config
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.lib.utils import simpleSplit
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen.canvas import Canvas

from app import i18n
from app.formatting import day, euros, moment
from app.i18n import _

PAGE_WIDTH, PAGE_HEIGHT = A4
MARGIN = 20 * mm
TEXT_WIDTH = PAGE_WIDTH - 2 * MARGIN
FONT, BOLD = "Helvetica", "Helvetica-Bold"
BODY_SIZE, SMALL_SIZE, TITLE_SIZE, HEADING_SIZE = 10, 8, 16, 11.5
LEADING = 13.5
PLATFORM = "Cessez-le-feu"
# Compressed streams without the ASCII85 layer: binary PDF is fine for downloads, and reportlab's pure-Python
# ASCII85 encoder was a fifth of the rendering time. Only this module uses reportlab.
rl_config.useA85 = 0

# What WinAnsi (cp1252) lacks but French text often has: babel's narrow no-break space, typographic dashes
# and spaces, the ellipsis; anything else outside cp1252 becomes "?" rather than a blank box.
_REPLACEMENTS = str.maketrans({
    "\u202f": "\u00a0", "\u2009": " ", "\u2007": " ", "\u2002": " ", "\u2003": " ", "\u2011": "-",
    "\u2010": "-", "\u2212": "-", "\u00ad": "", "\u200b": "", "\ufeff": "", "\t": "    ",
})


_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f]")


@lru_cache(maxsize=4096)
def winansi(text: str) -> str:
    """Text the standard fonts can draw: normalized, control characters out, the rest mapped to cp1252."""
    text = _CONTROL.sub("", unicodedata.normalize("NFC", str(text)).translate(_REPLACEMENTS))
    try:
        text.encode("cp1252")
        return text
    except UnicodeEncodeError:
        pass
    out = []
    for char in text:
        if unicodedata.category(char)[0] == "C":
            continue
        try:
            char.encode("cp1252")
            out.append(char)
        except UnicodeEncodeError:
            decomposed = unicodedata.normalize("NFKD", char).encode("cp1252", "ignore").decode("cp1252")
            out.append(decomposed or "?")
    return "".join(out)


# --- the documents' content: plain values ---------------------------------------------------------------


@dataclass(frozen=True)
class AgreementDoc:
    """One accepting consumer's agreement."""

    agreement_ref: str  # e.g. "A-12-3-45" (case, proposal, claim)
    case_id: int
    case_title: str
    company_name: str
    consumer_name: str
    consumer_email: str
    mediator_name: str
    proposal_number: int
    proposal_version: int
    proposal_author_role: str  # company or mediator
    terms: str
    rule_kind: str  # fixed, share, item
    amount_cents: int
    item: str
    claimed_cents: int
    notices: tuple[str, ...]  # the R612-4 notices as recorded on the proposal, in the document's language
    mediation_started_at: datetime | None
    proposed_at: datetime
    decide_by: datetime
    accepted_at: datetime | None
    finalized_at: datetime


@dataclass(frozen=True)
class RecordLine:
    consumer_name: str
    amount_cents: int
    item: str


@dataclass(frozen=True)
class CollectiveRecordDoc:
    case_id: int
    case_title: str
    company_name: str
    mediator_name: str
    proposal_number: int
    proposal_version: int
    terms: str
    rule_kind: str
    decide_by: datetime
    finalized_at: datetime
    accepting: int
    refusing: int
    silent: int
    agreements: Sequence[RecordLine] = field(default_factory=tuple)


@dataclass(frozen=True)
class CertificateDoc:
    certificate_ref: str
    case_id: int
    case_title: str
    company_name: str
    consumer_name: str
    consumer_email: str
    mediator_name: str
    reason: str  # refused, silent, withdrawn, expired, unsigned, no_agreement
    claim_submitted_at: datetime | None
    mediation_started_at: datetime | None
    mediation_ended_at: datetime
    issued_at: datetime


@dataclass(frozen=True)
class InvoiceDoc:
    invoice_number: str
    case_id: int
    case_title: str
    company_name: str
    company_siren: str
    agreements: int
    basis_cents: int
    amount_cents: int
    rule_text: str  # the rule, already in words (fees.describe_rule)
    issued_at: datetime
    vat_note: str = ""  # "" → the standard "VAT not applicable" note


# --- fingerprints -----------------------------------------------------------------------------------------


def agreement_content_text(doc: AgreementDoc) -> str:
    """The agreement's content in a canonical, language-independent form (what its fingerprint covers)."""
    lines = [
        f"agreement:{doc.agreement_ref}",
        f"case:{doc.case_id}",
        f"proposal:{doc.proposal_number}.{doc.proposal_version}",
        f"company:{doc.company_name.strip()}",
        f"consumer:{doc.consumer_name.strip()} <{doc.consumer_email.strip().lower()}>",
        f"mediator:{doc.mediator_name.strip()}",
        f"amount_cents:{doc.amount_cents}",
        f"item:{doc.item.strip()}",
        "terms:" + "\n".join(line.rstrip() for line in doc.terms.strip().splitlines()),
    ]
    return unicodedata.normalize("NFC", "\n".join(lines))


def agreement_fingerprint(doc: AgreementDoc) -> str:
    """SHA-256 of the canonical content: the same terms, amount and parties give the same fingerprint."""
    return hashlib.sha256(agreement_content_text(doc).encode("utf-8")).hexdigest()


# --- drawing ------------------------------------------------------------------------------------------------


class _Writer:
    """A top-down writer on an A4 canvas: wrapped paragraphs, headings, key-value lines, page breaks."""

    def __init__(self, title: str, footer: str) -> None:
        self.buffer = io.BytesIO()
        self.canvas = Canvas(self.buffer, pagesize=A4, invariant=True, pageCompression=1)
        self.canvas.setTitle(winansi(title))
        self.canvas.setAuthor(PLATFORM)
        self.canvas.setCreator(PLATFORM)
        self.footer = winansi(footer)
        self.page = 1
        self.y = PAGE_HEIGHT - MARGIN

    def _footer(self) -> None:
        self.canvas.setFont(FONT, SMALL_SIZE - 1)
        self.canvas.setFillGray(0.35)
        self.canvas.drawString(MARGIN, MARGIN / 2, self.footer)
        self.canvas.drawRightString(PAGE_WIDTH - MARGIN, MARGIN / 2, f"{self.page}")
        self.canvas.setFillGray(0)

    def _room(self, height: float) -> None:
        if self.y - height < MARGIN:
            self._footer()
            self.canvas.showPage()
            self.page += 1
            self.y = PAGE_HEIGHT - MARGIN

    def title(self, text: str, subtitle: str = "") -> None:
        self.canvas.setFont(FONT, SMALL_SIZE)
        self.canvas.setFillGray(0.35)
        self.canvas.drawString(MARGIN, self.y, PLATFORM)
        self.canvas.setFillGray(0)
        self.y -= TITLE_SIZE + 6
        self.paragraph(text, font=BOLD, size=TITLE_SIZE, leading=TITLE_SIZE + 3)
        if subtitle:
            self.paragraph(subtitle, size=BODY_SIZE)
        self.y -= 4

    def heading(self, text: str) -> None:
        self._room(HEADING_SIZE + LEADING * 2)
        self.y -= 6
        self.paragraph(text, font=BOLD, size=HEADING_SIZE, leading=HEADING_SIZE + 4)

    def paragraph(self, text: str, *, font: str = FONT, size: float = BODY_SIZE, leading: float | None = None,
                  indent: float = 0) -> None:
        leading = leading or (LEADING if size >= BODY_SIZE else size + 3)
        self.canvas.setFont(font, size)
        for raw in winansi(text).split("\n"):
            lines = _wrap(raw, font, size, TEXT_WIDTH - indent)
            for line in lines:
                self._room(leading)
                self.canvas.setFont(font, size)
                self.y -= leading
                self.canvas.drawString(MARGIN + indent, self.y + leading - size, line)

    def bullets(self, items: Iterable[str]) -> None:
        for item in items:
            self._room(LEADING)
            self.canvas.setFont(FONT, BODY_SIZE)
            self.canvas.drawString(MARGIN + 2, self.y - BODY_SIZE, "\u2022")
            self.paragraph(item, indent=12)

    def fields(self, rows: Sequence[tuple[str, str]], label_width: float = 62 * mm) -> None:
        """Label: value lines, the value wrapped in its column."""
        for label, value in rows:
            label_lines = _wrap(winansi(label), BOLD, BODY_SIZE, label_width - 6)
            value_lines = _wrap(winansi(value), FONT, BODY_SIZE, TEXT_WIDTH - label_width)
            count = max(len(label_lines), len(value_lines))
            for index in range(count):
                self._room(LEADING)
                self.y -= LEADING
                baseline = self.y + LEADING - BODY_SIZE
                if index < len(label_lines):
                    self.canvas.setFont(BOLD, BODY_SIZE)
                    self.canvas.drawString(MARGIN, baseline, label_lines[index])
                if index < len(value_lines):
                    self.canvas.setFont(FONT, BODY_SIZE)
                    self.canvas.drawString(MARGIN + label_width, baseline, value_lines[index])

    def table(self, header: Sequence[str], rows: Iterable[Sequence[str]], widths: Sequence[float]) -> None:
        """A plain table; the header is drawn again on each new page."""
        xs = [MARGIN]
        for width in widths[:-1]:
            xs.append(xs[-1] + width)

        def draw(cells: Sequence[str], font: str) -> None:
            self.canvas.setFont(font, SMALL_SIZE + 1)
            for x, width, cell in zip(xs, widths, cells, strict=False):
                text = winansi(cell)
                while text and self.canvas.stringWidth(text, font, SMALL_SIZE + 1) > width - 4:
                    text = text[:-2] + "\u2026"
                self.canvas.drawString(x, self.y + 3, text)

        def header_row() -> None:
            self.y -= LEADING
            draw(header, BOLD)
            self.canvas.setLineWidth(0.4)
            self.canvas.line(MARGIN, self.y, MARGIN + sum(widths), self.y)

        self._room(LEADING * 3)
        header_row()
        for cells in rows:
            if self.y - LEADING < MARGIN:
                self._room(LEADING * 2)  # new page
                header_row()
            self.y -= LEADING - 1
            draw(cells, FONT)

    def space(self, points: float = 6) -> None:
        self.y -= points

    def finish(self) -> bytes:
        self._footer()
        self.canvas.showPage()
        self.canvas.save()
        return self.buffer.getvalue()


@lru_cache(maxsize=4096)
def _wrap(text: str, font: str, size: float, width: float) -> tuple[str, ...]:
    """simpleSplit, with words wider than the line (a pasted URL, a reference) cut so they stay on the page.

    Cached: the notices and fixed paragraphs are the same in a thousand agreements."""
    lines: list[str] = []
    for line in simpleSplit(text, font, size, width) or [""]:
        while stringWidth(line, font, size) > width and len(line) > 1:
            cut = len(line) - 1
            while cut > 1 and stringWidth(line[:cut], font, size) > width:
                cut = max(1, int(cut * 0.9))
            lines.append(line[:cut])
            line = line[cut:]
        lines.append(line)
    return tuple(lines)


def _date(value: datetime | date | None) -> str:
    return day(value) if value is not None else _("not recorded")


def _moment(value: datetime | None) -> str:
    return moment(value) if value is not None else _("not recorded")


def _role_label(role: str) -> str:
    return _("the company") if role == "company" else _("the mediator")


def amount_text(rule_kind: str, amount_cents: int, item: str) -> str:
    """What one consumer receives, in words."""
    if rule_kind == "item":
        return item or _("a non-monetary item (see the terms)")
    return euros(amount_cents)


def certificate_reason_text(reason: str) -> str:
    texts = {
        "refused": _("You refused the proposed solution."),
        "silent": _("You did not answer the proposed solution before its deadline."),
        "withdrawn": _("You withdrew from the mediation."),
        "expired": _("The mediation reached its time limit without an agreement."),
        "unsigned": _("You accepted the proposed solution but did not sign the agreement before its deadline."),
        "no_agreement": _("The mediation ended without an agreement."),
    }
    return texts.get(reason, texts["no_agreement"])


# --- the four documents -----------------------------------------------------------------------------------


def agreement_pdf(doc: AgreementDoc, language: str) -> bytes:
    """A consumer's personal agreement: parties, terms, their amount, the R612-4 notices, dates, fingerprint."""
    fingerprint = agreement_fingerprint(doc)
    with i18n.language_of(language):
        writer = _Writer(_("Mediation agreement") + f" {doc.agreement_ref}",
                         _("Agreement %(ref)s · content fingerprint (SHA-256) %(hash)s")
                         % {"ref": doc.agreement_ref, "hash": fingerprint[:16] + "…"})
        writer.title(_("Mediation agreement"), _("Case no. %(id)s: %(title)s") % {"id": doc.case_id,
                                                                                  "title": doc.case_title})
        writer.heading(_("Parties"))
        writer.fields([
            (_("Consumer"), f"{doc.consumer_name} <{doc.consumer_email}>"),
            (_("Company"), doc.company_name),
            (_("Mediator"), doc.mediator_name or _("not recorded")),
        ])
        writer.heading(_("The proposed solution"))
        writer.paragraph(_("Proposal no. %(number)s, version %(version)s, made by %(author)s on %(date)s.")
                         % {"number": doc.proposal_number, "version": doc.proposal_version,
                            "author": _role_label(doc.proposal_author_role), "date": _date(doc.proposed_at)})
        writer.space()
        writer.paragraph(doc.terms)
        writer.heading(_("What you receive"))
        rows = [(_("Under this agreement"), amount_text(doc.rule_kind, doc.amount_cents, doc.item))]
        if doc.rule_kind != "item":
            rows.append((_("Amount claimed"), euros(doc.claimed_cents)))
        writer.fields(rows)
        writer.heading(_("What you were told with the proposal (Code de la consommation, R612-4)"))
        writer.bullets(doc.notices or (_("No notice was recorded with this proposal."),))
        writer.heading(_("Dates"))
        writer.fields([
            (_("Mediation started"), _date(doc.mediation_started_at)),
            (_("Proposal made"), _moment(doc.proposed_at)),
            (_("Deadline to answer"), _moment(doc.decide_by)),
            (_("Accepted by the consumer"), _moment(doc.accepted_at)),
            (_("Agreement drawn up"), _moment(doc.finalized_at)),
        ])
        writer.heading(_("Signatures"))
        writer.paragraph(_("The consumer signs this agreement online after entering their password again; the "
                           "company countersigns it once for all the agreements of the case. The time, address "
                           "and browser of each signature are recorded by the platform."))
        writer.heading(_("Fingerprint"))
        writer.paragraph(_("SHA-256 fingerprint of the agreement's content (terms, amount and parties):"),
                         size=SMALL_SIZE + 1)
        writer.paragraph(fingerprint, font="Courier", size=SMALL_SIZE + 1)
        writer.paragraph(_("The SHA-256 of this PDF file is shown on the agreement's page of the platform, so "
                           "you can check that your copy has not been altered."), size=SMALL_SIZE + 1)
        return writer.finish()


def collective_record_pdf(doc: CollectiveRecordDoc, language: str) -> bytes:
    """The record of a finalized proposal: counts of accepting, refusing and silent consumers, and the
    agreements by consumer."""
    with i18n.language_of(language):
        writer = _Writer(_("Collective record") + f" {doc.case_id}-{doc.proposal_number}",
                         _("Collective record · case no. %(id)s · proposal %(number)s.%(version)s")
                         % {"id": doc.case_id, "number": doc.proposal_number, "version": doc.proposal_version})
        writer.title(_("Collective record of the mediation"),
                     _("Case no. %(id)s: %(title)s") % {"id": doc.case_id, "title": doc.case_title})
        writer.fields([
            (_("Company"), doc.company_name),
            (_("Mediator"), doc.mediator_name or _("not recorded")),
            (_("Proposal"), _("no. %(number)s, version %(version)s") % {"number": doc.proposal_number,
                                                                      "version": doc.proposal_version}),
            (_("Deadline to answer"), _moment(doc.decide_by)),
            (_("Finalized"), _moment(doc.finalized_at)),
        ])
        writer.heading(_("Terms"))
        writer.paragraph(doc.terms)
        writer.heading(_("Individual decisions"))
        writer.fields([
            (_("Consumers who accepted"), str(doc.accepting)),
            (_("Consumers who refused"), str(doc.refusing)),
            (_("Consumers who did not answer"), str(doc.silent)),
        ])
        writer.paragraph(_("Each consumer decided for themselves: a majority binds no one. Those who refused or "
                           "did not answer receive a certificate of non-agreement."), size=SMALL_SIZE + 1)
        writer.heading(_("Agreements"))
        if doc.agreements:
            total = sum(line.amount_cents for line in doc.agreements)
            writer.table([_("No."), _("Consumer"), _("Receives")],
                         ((str(index), line.consumer_name, amount_text(doc.rule_kind, line.amount_cents, line.item))
                          for index, line in enumerate(doc.agreements, start=1)),
                         widths=(14 * mm, TEXT_WIDTH - 64 * mm, 50 * mm))
            if doc.rule_kind != "item":
                writer.space()
                writer.fields([(_("Total of the agreements"), euros(total))])
        else:
            writer.paragraph(_("Nobody accepted the proposed solution."))
        writer.heading(_("Countersignature"))
        writer.paragraph(_("The company countersigns once for all the agreements signed by the consumers."))
        return writer.finish()


def certificate_pdf(doc: CertificateDoc, language: str) -> bytes:
    """A certificate of non-agreement with the dates that matter for limitation periods (art. 2238)."""
    with i18n.language_of(language):
        writer = _Writer(_("Certificate of non-agreement") + f" {doc.certificate_ref}",
                         _("Certificate of non-agreement %(ref)s") % {"ref": doc.certificate_ref})
        writer.title(_("Certificate of non-agreement"),
                     _("Case no. %(id)s: %(title)s") % {"id": doc.case_id, "title": doc.case_title})
        writer.paragraph(_("The platform certifies that the collective mediation below ended without an agreement "
                           "for this consumer."))
        writer.heading(_("Parties"))
        writer.fields([
            (_("Consumer"), f"{doc.consumer_name} <{doc.consumer_email}>"),
            (_("Company"), doc.company_name),
            (_("Mediator"), doc.mediator_name or _("not recorded")),
        ])
        writer.heading(_("Why"))
        writer.paragraph(certificate_reason_text(doc.reason))
        writer.heading(_("Dates for limitation periods (Code civil, art. 2238)"))
        writer.fields([
            (_("Claim filed"), _date(doc.claim_submitted_at)),
            (_("Mediation started (suspension begins)"), _date(doc.mediation_started_at)),
            (_("Mediation ended for you (suspension ends)"), _date(doc.mediation_ended_at)),
            (_("Certificate issued"), _moment(doc.issued_at)),
        ])
        writer.paragraph(_("Limitation and foreclosure periods are suspended from the day the mediation started; "
                           "they run again, for at least six months, from the day it ended (art. 2238 of the "
                           "Civil Code)."), size=SMALL_SIZE + 1)
        writer.heading(_("Your options"))
        writer.paragraph(_("You remain free to take your dispute to court. You may also pass your file, with this "
                           "certificate, to the platform's litigation partner."))
        return writer.finish()


def invoice_pdf(doc: InvoiceDoc, language: str) -> bytes:
    """The platform's success-fee invoice to the company."""
    with i18n.language_of(language):
        writer = _Writer(_("Invoice") + f" {doc.invoice_number}", _("Invoice %(number)s") % {
            "number": doc.invoice_number})
        writer.title(_("Invoice %(number)s") % {"number": doc.invoice_number}, _date(doc.issued_at))
        writer.fields([
            (_("Issued by"), PLATFORM),
            (_("Billed to"), doc.company_name + (f" (SIREN {doc.company_siren})" if doc.company_siren else "")),
            (_("Case"), _("no. %(id)s: %(title)s") % {"id": doc.case_id, "title": doc.case_title}),
        ])
        writer.heading(_("Success fee"))
        writer.fields([
            (_("Signed agreements"), str(doc.agreements)),
            (_("Total of the signed amounts"), euros(doc.basis_cents)),
            (_("Rule"), doc.rule_text),
            (_("Fee, excluding VAT"), euros(doc.amount_cents)),
            (_("VAT"), doc.vat_note or _("VAT not applicable, art. 293 B of the CGI")),
            (_("Total due"), euros(doc.amount_cents)),
        ])
        writer.space()
        writer.paragraph(_("The platform is paid only when an agreement is reached; consumers never pay (Code de "
                           "la consommation, L612-1). The mediator's pay does not depend on this fee."),
                         size=SMALL_SIZE + 1)
        return writer.finish()

