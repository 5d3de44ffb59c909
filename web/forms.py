# mypy: disallow-subclassing-any=False
"""The forms, and the few field types they share.

* ``AmountField`` keeps what was typed and exposes ``.pence`` through ``ledger.money.parse_pence``
  (negative only where a form allows it: variations).
* ``DayField`` reads ISO or UK dates through ``ledger.fy.parse_date`` and exposes ``.day``.
* ``ReferenceField`` is the hidden idempotency key: made when the form is rendered, sent back on
  submit, passed to the ledger as the operation's ``reference``. Submitting the same rendered
  form twice replays the first record instead of making a second one.
* ``attach_ledger_error`` puts a ledger refusal next to the field it concerns (``err.field``
  mapped through the form's ``LEDGER_FIELDS``) or, failing that, at the top of the form.

Each field's ``description`` is its hint text.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar

from flask_wtf import FlaskForm  # type: ignore[import-untyped, unused-ignore]
from flask_wtf.file import FileField, FileRequired  # type: ignore[import-untyped, unused-ignore]
from wtforms import (  # type: ignore[import-untyped, unused-ignore]
    BooleanField,
    Field,
    Form,
    HiddenField,
    PasswordField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import (  # type: ignore[import-untyped, unused-ignore]
    InputRequired,
    Length,
    Optional,
    Regexp,
    StopValidation,
    ValidationError,
)

from ledger.errors import InvalidInput, LedgerError, ReferenceConflict
from ledger.fy import parse_date, parse_financial_year
from ledger.money import AmountError, parse_pence
from ledger.passwords import MAX_CHARS as PASSWORD_MAX_CHARS
from ledger.passwords import MIN_CHARS as PASSWORD_MIN_CHARS
from ledger.passwords import check_new_password

__all__ = [
    "AcknowledgeForm",
    "AllocationForm",
    "AmountField",
    "AuditFilterForm",
    "AwardForm",
    "ChangePasswordForm",
    "DayField",
    "DelegationForm",
    "ImportConfirmForm",
    "ImportUploadForm",
    "OrganisationForm",
    "PaymentForm",
    "PersonForm",
    "PersonRoleForm",
    "ReceiptForm",
    "ReconcileForm",
    "ReferenceField",
    "RejectForm",
    "ReturnForm",
    "VariationForm",
    "attach_ledger_error",
]

HIDDEN_FIELD_TYPES = ("HiddenField", "CSRFTokenField", "ReferenceField")
NAME_CHARS = 200
TEXT_CHARS = 2000
# Control characters (tab and line breaks aside) and the invisible bidirectional overrides and
# isolates, which make text display in a different order from how it is stored and compared.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_REFERENCE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/-]{2,99}")


def strip(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value


def plain_text(_form: Form, field: Field) -> None:
    """No NUL or other control characters (PostgreSQL refuses NUL; nobody means to type one),
    and no invisible text-direction overrides (they disguise what a name or reason says)."""
    if isinstance(field.data, str) and _CONTROL.search(field.data):
        raise ValidationError(f"{field.label.text} contains a control character; retype it")


class AmountField(StringField):
    """An amount typed as people type it (``£82,336.18``, ``9058``); ``.pence`` once valid."""

    def __init__(
        self, label: str, *, allow_negative: bool = False, required: str, **kwargs: Any
    ) -> None:
        render_kw = {"inputmode": "decimal", "autocomplete": "off", "spellcheck": "false"}
        super().__init__(label, filters=[strip], render_kw=render_kw, **kwargs)
        self.allow_negative = allow_negative
        self.required_message = required
        self.pence: int | None = None

    def pre_validate(self, form: Form) -> None:
        self.pence = None
        if not self.data:
            raise StopValidation(self.required_message)
        try:
            self.pence = parse_pence(self.data, allow_negative=self.allow_negative)
        except AmountError as error:
            raise StopValidation(str(error)) from error


class DayField(StringField):
    """A date typed as ``2023-10-01`` or ``01/10/2023``; ``.day`` once valid."""

    def __init__(self, label: str, *, required: str | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("description", "For example, 01/10/2022 or 2022-10-01")
        render_kw = {"autocomplete": "off", "spellcheck": "false"}
        super().__init__(label, filters=[strip], render_kw=render_kw, **kwargs)
        self.required_message = required
        self.day: dt.date | None = None

    def pre_validate(self, form: Form) -> None:
        self.day = None
        if not self.data:
            if self.required_message:
                raise StopValidation(self.required_message)
            return
        try:
            self.day = parse_date(self.data)
        except InvalidInput as error:
            raise StopValidation(str(error)) from error


class ChoiceField(SelectField):
    """A select whose refusal of an unknown value says what to do."""

    def __init__(self, label: str, *, required: str, **kwargs: Any) -> None:
        super().__init__(label, validators=[InputRequired(required)], **kwargs)
        self.required_message = required

    def pre_validate(self, form: Form) -> None:
        if self.data and self.data not in {str(value) for value, *_ in self.iter_choices()}:
            raise StopValidation(self.required_message)


class OptionalChoiceField(SelectField):
    """A select that may be left at its blank first option."""

    def __init__(self, label: str, *, invalid: str, **kwargs: Any) -> None:
        super().__init__(label, **kwargs)
        self.invalid_message = invalid

    def pre_validate(self, form: Form) -> None:
        if self.data and self.data not in {str(value) for value, *_ in self.iter_choices()}:
            raise StopValidation(self.invalid_message)


def new_reference(prefix: str) -> Callable[[], str]:
    def make() -> str:
        return f"{prefix}-{dt.date.today():%Y%m%d}-{secrets.token_hex(4).upper()}"

    return make


class ReferenceField(HiddenField):
    """The idempotency key, generated when the form is rendered."""

    def __init__(self, prefix: str, **kwargs: Any) -> None:
        super().__init__(
            "Reference",
            default=new_reference(prefix),
            validators=[InputRequired(STALE_FORM)],
            filters=[strip],
            **kwargs,
        )

    def pre_validate(self, form: Form) -> None:
        if self.data and not _REFERENCE.fullmatch(self.data):
            raise StopValidation(STALE_FORM)


STALE_FORM = "This form is out of date. Reload the page and fill it in again."


def text(label: str, required: str | None = None, chars: int = NAME_CHARS, **kw: Any) -> Any:
    validators: list[Any] = [InputRequired(required)] if required else [Optional()]
    validators += [Length(max=chars, message=f"{label} must be {chars} characters or fewer")]
    validators.append(plain_text)
    return StringField(label, validators=validators, filters=[strip], **kw)


def long_text(label: str, required: str | None = None, **kw: Any) -> Any:
    validators: list[Any] = [InputRequired(required)] if required else [Optional()]
    validators += [
        Length(max=TEXT_CHARS, message=f"{label} must be {TEXT_CHARS} characters or fewer")
    ]
    validators.append(plain_text)
    return TextAreaField(label, validators=validators, filters=[strip], **kw)


class LedgerForm(FlaskForm):
    """A form that records one ledger operation."""

    LEDGER_FIELDS: ClassVar[Mapping[str, str]] = {}
    reference: ReferenceField

    @property
    def visible_fields(self) -> list[Field]:
        return [f for f in self if f.type not in HIDDEN_FIELD_TYPES]


def attach_ledger_error(form: LedgerForm, error: LedgerError) -> None:
    """Show the refusal next to its field, else at the top of the form."""
    if isinstance(error, ReferenceConflict):
        form.form_errors.append(
            "This form has already been used to record something different. Reload the page"
            " to record another."
        )
        return
    name = form.LEDGER_FIELDS.get(error.field or "", error.field or "")
    field = form._fields.get(name) if name else None
    if field is not None and field in form.visible_fields:
        field.errors = [*field.errors, str(error)]
    else:
        form.form_errors.append(str(error))


def with_choices(field: Any, choices: Sequence[tuple[str, str]], placeholder: str) -> None:
    field.choices = [("", placeholder), *choices]


# The forms ----------------------------------------------------------------------------------


class AwardForm(LedgerForm):
    LEDGER_FIELDS: ClassVar[Mapping[str, str]] = {
        "pot": "pot",
        "to_pot": "pot",
        "counterparty": "funder",
        "stream": "stream",
        "financial_year": "financial_year",
        "date": "award_date",
        "description": "memo",
    }
    funder = text(
        "Funder",
        "Enter the funder's name",
        description="The organisation making the award, for example Scottish Government",
    )
    pot = text(
        "Pot",
        "Enter the pot's name",
        description="An existing pot, or a new name to open a pot, for example WFWF 2023-24",
    )
    stream = OptionalChoiceField(
        "Funding stream (optional)", invalid="Choose a funding stream from the list"
    )
    amount = AmountField("Amount awarded", required="Enter the amount awarded")
    award_date = DayField("Date of the award", required="Enter the date of the award")
    financial_year = text(
        "Financial year (optional)",
        description="For example 2022-23. Leave blank to use the year of the award's date",
        chars=9,
    )
    is_assumption = BooleanField(
        "The source of this money is an assumption, not a named funder's document",
    )
    memo = long_text(
        "Description",
        "Enter a description, for example the award letter it comes from",
        description="Where the award is recorded, for example the award letter or committee report",
    )
    reference = ReferenceField("AWD")

    def validate_financial_year(self, field: Field) -> None:
        if field.data:
            try:
                parse_financial_year(field.data)
            except InvalidInput as error:
                raise ValidationError(str(error)) from error

    @property
    def year(self) -> int | None:
        return parse_financial_year(self.financial_year.data) if self.financial_year.data else None


class ReceiptForm(LedgerForm):
    LEDGER_FIELDS: ClassVar[Mapping[str, str]] = {
        "counterparty": "funder",
        "description": "memo",
    }
    pot = ChoiceField("Pot", required="Choose the pot the money was paid into")
    funder = text(
        "Funder", "Enter the funder who paid", description="Who paid, as named on the award"
    )
    amount = AmountField("Amount received", required="Enter the amount received")
    date = DayField("Date received", required="Enter the date the money arrived")
    memo = long_text(
        "Description",
        "Enter a description, for example the remittance advice",
        description="For example the finance system's transaction or the remittance advice",
    )
    reference = ReferenceField("RCP")


class AllocationForm(LedgerForm):
    """An allocation from a pot; also a sub-grant from a delegated pot."""

    LEDGER_FIELDS: ClassVar[Mapping[str, str]] = {
        "counterparty": "recipient",
        "description": "purpose",
        "period_end": "period_end",
        "tags": "tags",
    }
    pot = ChoiceField("Pot", required="Choose the pot the money comes from")
    recipient = text(
        "Recipient",
        "Enter the recipient's name",
        description="The provider or post receiving the money, for example Aberlour",
    )
    amount = AmountField("Amount", required="Enter the amount to allocate")
    date = DayField("Date of the decision", required="Enter the date of the decision")
    purpose = long_text("Purpose", "Enter what the money is for")
    period_start = DayField("Period starts (optional)")
    period_end = DayField("Period ends (optional)")
    tags = text(
        "Promise Plan actions or foundations (optional)",
        description="Separate with commas, for example WFS 1, 2",
    )
    reference = ReferenceField("ALC")

    @property
    def tag_list(self) -> list[str]:
        return [t.strip() for t in (self.tags.data or "").split(",") if t.strip()]


class DelegationForm(LedgerForm):
    LEDGER_FIELDS: ClassVar[Mapping[str, str]] = {
        "counterparty": "recipient",
        "description": "purpose",
        "to_pot": "to_pot",
    }
    pot = ChoiceField("From pot", required="Choose the pot the money comes from")
    recipient = text(
        "Intermediary",
        "Enter the intermediary's name",
        description="The organisation that will administer the new pot, for example CTSI",
    )
    to_pot = text(
        "Name of the new pot",
        "Enter a name for the pot the intermediary will administer",
        description="For example CTSI managed WFWF Grant 2022-23",
    )
    amount = AmountField("Amount", required="Enter the amount to delegate")
    date = DayField("Date of the decision", required="Enter the date of the decision")
    purpose = long_text("Purpose", "Enter what the money is for")
    reference = ReferenceField("DLG")


class VariationForm(LedgerForm):
    LEDGER_FIELDS: ClassVar[Mapping[str, str]] = {
        "allocation_ref": "allocation",
        "description": "reason",
    }
    allocation = ChoiceField("Allocation", required="Choose the allocation to vary")
    amount = AmountField(
        "Change in amount",
        allow_negative=True,
        required="Enter the change, for example 500.00 or -500.00",
        description="An increase, or a reduction with a minus sign, for example -500.00",
    )
    date = DayField("Date of the variation", required="Enter the date of the variation")
    reason = long_text("Reason", "Enter the reason for the variation")
    reference = ReferenceField("VAR")


class PaymentForm(LedgerForm):
    LEDGER_FIELDS: ClassVar[Mapping[str, str]] = {
        "allocation_ref": "allocation",
        "description": "memo",
    }
    allocation = ChoiceField(
        "Allocation",
        required="Choose the allocation to pay",
        description="Only confirmed allocations can be paid",
    )
    amount = AmountField("Amount paid", required="Enter the amount paid")
    date = DayField("Date paid", required="Enter the date of the payment")
    memo = long_text(
        "Description",
        "Enter a description, for example the instalment",
        description="For example: Quarter 1 instalment",
    )
    override_reason = long_text(
        "Reason for paying before the report is received",
        description="An approver's override of the reporting condition, kept in the audit log."
        " The payment then waits for a second person to approve it",
    )
    reference = ReferenceField("PAY")
    # Shown only to an approver, once a payment has been refused for a report not received.
    show_override: bool = False

    @property
    def visible_fields(self) -> list[Field]:
        return [
            f for f in super().visible_fields if f.name != "override_reason" or self.show_override
        ]


class ReturnForm(LedgerForm):
    LEDGER_FIELDS: ClassVar[Mapping[str, str]] = {
        "allocation_ref": "allocation",
        "description": "memo",
    }
    allocation = ChoiceField("Allocation", required="Choose the allocation the money came from")
    amount = AmountField("Amount returned", required="Enter the amount returned")
    date = DayField("Date returned", required="Enter the date the money came back")
    memo = long_text(
        "Reason",
        "Enter why the money came back",
        description="For example: underspend at year end, or clawback",
    )
    reference = ReferenceField("RET")


class AwardReductionForm(LedgerForm):
    LEDGER_FIELDS: ClassVar[Mapping[str, str]] = {
        "allocation_ref": "award",
        "description": "memo",
    }
    award = ChoiceField("Award", required="Choose the award the funder is reducing")
    amount = AmountField("Amount withdrawn", required="Enter the amount the funder withdraws")
    date = DayField("Date of the reduction", required="Enter the date of the reduction")
    memo = long_text(
        "Reason",
        "Enter why the award is reduced",
        description="For example: the funder's letter withdrawing the unpaid balance",
    )
    reference = ReferenceField("RED")


class HandBackForm(LedgerForm):
    LEDGER_FIELDS: ClassVar[Mapping[str, str]] = {"description": "memo"}
    pot = ChoiceField("Pot", required="Choose the pot the cash leaves")
    amount = AmountField("Amount handed back", required="Enter the amount handed back")
    date = DayField("Date handed back", required="Enter the date the cash went back")
    memo = long_text(
        "Reason",
        "Enter why the money goes back",
        description="For example: unspent at the end of the grant period, as the funder asked",
    )
    reference = ReferenceField("HBK")


class CarryForwardForm(LedgerForm):
    LEDGER_FIELDS: ClassVar[Mapping[str, str]] = {"description": "memo"}
    pot = ChoiceField("From pot", required="Choose the pot the money moves from")
    to_pot = ChoiceField("Into pot", required="Choose the next year's pot")
    amount = AmountField("Amount carried forward", required="Enter the amount carried forward")
    date = DayField("Date", required="Enter the date of the carry-forward")
    memo = long_text(
        "Reason",
        "Enter why the money is carried forward",
        description="For example: Year 1 underspend into Year 2, as the funder allowed",
    )
    reference = ReferenceField("CFW")


class ReversalForm(LedgerForm):
    LEDGER_FIELDS: ClassVar[Mapping[str, str]] = {"description": "reason"}
    reason = long_text(
        "Reason",
        "Enter why the entry is reversed",
        description="For example: paid twice in error. The original entry stays on record",
    )
    reference = ReferenceField("REV")


class CloseForm(LedgerForm):
    LEDGER_FIELDS: ClassVar[Mapping[str, str]] = {"description": "reason"}
    reason = long_text(
        "Reason for closing",
        "Enter why the allocation is closed",
        description="For example: project finished, final report received",
    )


def parse_shares(text_value: str) -> list[tuple[str, int]]:
    """``WFWF 2022-23=3; Promise Partnership 2021-22=1`` as (pot, share) pairs; ValueError with a
    message a person can act on when it is not that."""
    pairs: list[tuple[str, int]] = []
    for part in text_value.split(";"):
        if not part.strip():
            continue
        name, equals, weight = part.rpartition("=")
        name, weight = name.strip(), weight.strip()
        if not equals or not name or not (weight.isascii() and weight.isdecimal()):
            raise ValueError(
                f"Write '{part.strip()}' as a pot and its share, such as WFWF 2022-23=3"
            )
        if not 0 < int(weight) < 10**12:
            raise ValueError(f"The share of {name} must be a whole number from 1 up")
        pairs.append((name, int(weight)))
    if len(pairs) < 2:
        raise ValueError("Name at least two pots and their shares, separated by semicolons")
    return pairs


def _valid_shares(form: Form, field: Field) -> None:
    try:
        parse_shares(field.data or "")
    except ValueError as error:
        raise StopValidation(str(error)) from error


class PooledContractForm(LedgerForm):
    """One contract funded from several pots in agreed shares."""

    LEDGER_FIELDS: ClassVar[Mapping[str, str]] = {
        "pot": "shares",
        "counterparty": "recipient",
        "description": "purpose",
        "tags": "tags",
    }
    recipient = text(
        "Recipient",
        "Enter the recipient's name",
        description="The provider receiving the contract, for example Home-Start",
    )
    amount = AmountField("Amount", required="Enter the contract's whole amount")
    shares = StringField(
        "Pots and shares",
        validators=[InputRequired("Enter the pots and their shares"), _valid_shares],
        filters=[strip],
        description="Each pot and its whole-number share, separated by semicolons, for example"
        " WFWF 2022-23=3; Promise Partnership 2021-22=1",
        render_kw={"data-split": "shares", "autocomplete": "off", "spellcheck": "false"},
    )
    date = DayField("Date of the decision", required="Enter the date of the decision")
    purpose = long_text("Purpose", "Enter what the money is for")
    tags = text(
        "Promise Plan actions or foundations (optional)",
        description="Separate with commas, for example WFS 1, 2",
    )
    reference = ReferenceField("POO")

    @property
    def tag_list(self) -> list[str]:
        return [t.strip() for t in (self.tags.data or "").split(",") if t.strip()]


class RejectForm(FlaskForm):
    note = long_text(
        "Reason for rejecting",
        "Enter why you are rejecting it",
        description="The person who entered it will see this",
    )


class RejectAllocationForm(RejectForm):
    date = DayField(
        "Date of the rejection",
        description="The day the held money goes back to the pot, for example 01/10/2022."
        " Leave blank for today, or the allocation's own date if that is later",
    )


class ImportUploadForm(FlaskForm):
    file = FileField(
        "CSV file",
        validators=[FileRequired("Choose a CSV file to upload")],
        description="Header: date,operation,reference,pot,counterparty,amount,description,"
        "allocation_ref,to_pot. Up to 5 MB.",
        render_kw={"accept": ".csv,text/csv"},
    )


class ImportConfirmForm(FlaskForm):
    token = HiddenField(validators=[InputRequired(STALE_FORM)])


class ReconcileForm(FlaskForm):
    file = FileField(
        "Finance system export (CSV)",
        validators=[FileRequired("Choose the finance export to upload")],
        description="Header: date,reference,amount,description. Money in to the council is"
        " positive, money out is negative. Up to 5 MB.",
        render_kw={"accept": ".csv,text/csv"},
    )
    date_from = DayField("From (optional)")
    date_to = DayField("To (optional)")


class AuditFilterForm(Form):
    """Filters for the audit log: a GET form, so it changes nothing and needs no token. Text
    filters ignore case."""

    actor = text("Who", description="A username, for example officer")
    action = OptionalChoiceField("What", invalid="Choose what to look for from the list")
    words = text("Words in the record", chars=100)
    recipient = text("Recipient", chars=100, description="Part of a name, for example aberlour")
    date_from = DayField("Recorded from", description="For example, 01/04/2022")
    date_to = DayField("Recorded to", description="For example, 31/03/2023")
    txn_from = DayField(
        "Transaction date from",
        description="The date the money moved. Approvals and other acts without one are left out",
    )
    txn_to = DayField("Transaction date to", description="For example, 31/03/2023")


class AcknowledgeForm(FlaskForm):
    """ "I have seen it": the author of a rejected allocation or request clears it from their
    dashboard. Hidden fields name the item; the server checks it is theirs and rejected."""

    kind = HiddenField(validators=[InputRequired(STALE_FORM)])
    item = HiddenField(validators=[InputRequired(STALE_FORM), Length(max=100)])
    back = HiddenField()


class OrganisationForm(FlaskForm):
    """An organisation's registered numbers and place. Every field is checked by
    ``ledger.identifiers``; an empty field clears what was recorded."""

    # Where a refusal from ledger.identifiers (its ``field``) is shown.
    LEDGER_FIELDS: ClassVar[Mapping[str, str]] = {
        "charity_number": "charity_numbers",
        "scottish_charity_number": "charity_numbers",
        "ni_charity_number": "ni_charity_number",
        "company_number": "company_number",
        "local_authority_code": "local_authority_code",
        "other_identifier": "other_identifier",
        "location": "location_code",
    }

    charity_numbers = text(
        "Charity numbers",
        chars=60,
        description="SC and 6 digits (Scotland), 6 to 8 digits (England and Wales) or NIC and 6"
        " digits (Northern Ireland). For a charity in several registers, separate them with"
        " commas: 1097940, SC038092",
    )
    ni_charity_number = text(
        "Northern Ireland charity number given as digits only (optional)", chars=20
    )
    company_number = text(
        "Companies House number (optional)",
        chars=20,
        description="8 digits, such as 00061625, or 2 letters and 6 digits, such as SC123456",
    )
    local_authority_code = text(
        "Local authority code (optional)",
        chars=20,
        description="For a council: GB-LAS-CLK (Scotland), GB-LAE-…, GB-PLA-… or GB-LANI-…",
    )
    other_identifier = text(
        "Other organisation identifier (optional)",
        chars=100,
        description="Another org-id.guide register, prefix first: GB-EDU-123456",
    )
    location_code = text(
        "Place: ONS/GSS code (optional)",
        chars=20,
        description="Where the organisation is, such as S12000005 (Clackmannanshire)",
    )
    location_name = text("Place: name (optional)", chars=100)
    is_internal = BooleanField(
        "Part of the accountable body (a post or an internal service): its allocations are"
        " internal spend, not grants"
    )
    reason = text(
        "Why you are making this change",
        "Say why you are making this change",
        description="For example: numbers checked on the Scottish Charity Register. The audit"
        " log keeps it",
    )

    @property
    def visible_fields(self) -> list[Field]:
        return [f for f in self if f.type not in HIDDEN_FIELD_TYPES]

    date_from = DayField("From", description="For example, 01/04/2022")
    date_to = DayField("To", description="For example, 31/03/2023")


# People ---------------------------------------------------------------------------------------


def _password(label: str, autocomplete: str, required: str, **kw: Any) -> Any:
    return PasswordField(
        label,
        validators=[
            InputRequired(required),
            Length(
                max=PASSWORD_MAX_CHARS,
                message=f"A password can be at most {PASSWORD_MAX_CHARS:,} characters",
            ),
        ],
        render_kw={"autocomplete": autocomplete, "spellcheck": "false"},
        **kw,
    )


class ChangePasswordForm(LedgerForm):
    """Your own password: the current one, then the new one twice."""

    LEDGER_FIELDS: ClassVar[Mapping[str, str]] = {
        "current_password": "current_password",
        "password": "password",
    }
    current_password = _password(
        "Current password", "current-password", "Enter your current password"
    )
    password = _password(
        "New password",
        "new-password",
        "Enter a new password",
        description=f"At least {PASSWORD_MIN_CHARS} characters. Three or four random words"
        " with spaces between them are easy to remember and hard to guess. Common passwords"
        " and your username are refused",
    )
    confirm = _password(
        "New password again",
        "new-password",
        "Enter the new password again",
    )
    username = ""  # whose password it is: set by the view, for the rule against the username

    def validate_password(self, field: Field) -> None:
        """The rules at once, beside any other error (the ledger checks them again)."""
        try:
            check_new_password(field.data or "", self.username)
        except InvalidInput as error:
            raise ValidationError(str(error)) from error

    def validate_confirm(self, field: Field) -> None:
        if field.data != self.password.data:
            raise ValidationError("The two new passwords differ; type the same one twice")


ROLE_CHOICE = "Choose a role"
USERNAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,99}")


class PersonRoleForm(LedgerForm):
    """What a person may do: their role and, for an intermediary, their organisation."""

    LEDGER_FIELDS: ClassVar[Mapping[str, str]] = {
        "role": "role",
        "organisation": "organisation",
        "display_name": "display_name",
    }
    display_name = text(
        "Name shown in the app",
        description="For example Morag Stewart, Finance. Leave blank to show the username",
    )
    role = ChoiceField("Role", required=ROLE_CHOICE)
    organisation = OptionalChoiceField(
        "Organisation (for an intermediary administrator)",
        invalid="Choose the organisation from the list",
        description="Only an intermediary administrator belongs to an organisation; they see"
        " only the pots it administers",
    )


class PersonForm(PersonRoleForm):
    """A new person: a username as well. The one-time password is made, not typed."""

    LEDGER_FIELDS: ClassVar[Mapping[str, str]] = {
        **PersonRoleForm.LEDGER_FIELDS,
        "username": "username",
    }
    username = StringField(
        "Username",
        validators=[
            InputRequired("Enter a username"),
            Regexp(
                USERNAME.pattern + r"\Z",
                message="A username is up to 100 letters, digits and . _ @ -, starting with a"
                " letter or digit",
            ),
        ],
        filters=[strip],
        description="What they type to sign in, for example m.stewart",
        render_kw={"autocomplete": "off", "spellcheck": "false"},
    )
