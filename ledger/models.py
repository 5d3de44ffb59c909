"""The schema of the ledger: SQLAlchemy 2.0 typed declarative models.

Money moves only through the journal (``Entry`` with its ``Line`` rows). Every line posts to an
``Account``; each account belongs to one pot, award or allocation share and carries its running
balance (debits minus credits, in pence). Accounts that must never go negative say so in ``floor``
and the database refuses a balance on the wrong side of zero with a CHECK constraint, behind the
application's own guards.

The figures people read (funded, allocated, paid, returned, received...) are maintained on pots,
awards and allocation shares in the same transaction as the entry that changes them, so reads never
sum the journal. ``ledger.check`` recomputes every one of them from the journal lines.

Names carry their unit: ``*_pence`` is an integer number of pence.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship, validates

from ledger import rules
from ledger.names import name_key

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

ORGANISATION_ROLES = ("funder", "accountable_body", "intermediary", "provider")
ALLOCATION_STATUSES = ("provisional", "confirmed", "closed", "rejected")
ACCOUNT_KINDS = ("available", "cash", "receivable", "unpaid", "due_in")
FLOORS = ("debit", "credit", "none")
ENTRY_KINDS = (
    "award",
    "receive",
    "allocate",
    "delegate",
    "vary",
    "pay",
    "return",
    "carry_forward",
    "hand_back",
    "reversal",
)
REQUEST_KINDS = (
    "vary",
    "pay",
    "award",
    "receive",
    "return",
    "carry_forward",
    "hand_back",
    "reverse",
    "import",
    "reduce_award",
    "close",
)
# Requests that post no journal entry when approved, and so carry no amount.
ENTRYLESS_REQUEST_KINDS = ("import", "close")
REQUEST_STATUSES = ("pending", "approved", "rejected")


def utcnow() -> dt.datetime:
    """The current time in UTC, evaluated at each call (never once at import)."""
    return dt.datetime.now(dt.UTC)


# Partial indexes: the few rows waiting for a second person, found without a scan. SQLite's
# WHERE is declared with the index; PostgreSQL's when a PostgreSQL engine is made
# (``declare_postgresql_where``), because naming ``postgresql_where`` here would make every
# command import SQLAlchemy's PostgreSQL dialect, even on a SQLite ledger, just to check it.
PARTIAL_INDEXES = {
    "ix_allocations_provisional": "status = 'provisional'",
    "ix_requests_pending": "status = 'pending'",
}


def _partial_index(name: str, column: str) -> Index:
    return Index(name, column, sqlite_where=text(PARTIAL_INDEXES[name]))


def declare_postgresql_where() -> None:
    """Give the partial indexes their WHERE on PostgreSQL too (safe to call again)."""
    for table in Base.metadata.tables.values():
        for index in table.indexes:
            where = PARTIAL_INDEXES.get(index.name or "")
            options = index.dialect_options["postgresql"]
            if where is not None and options["where"] is None:
                options["where"] = text(where)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def _in(column: str, values: tuple[str, ...]) -> str:
    quoted = ", ".join(f"'{v}'" for v in values)
    return f"{column} IN ({quoted})"


class Organisation(Base):
    """A funder, accountable body (the council), intermediary (CTSI) or provider."""

    __tablename__ = "organisations"
    __table_args__ = (
        CheckConstraint("length(name) > 0", name="name_not_empty"),
        CheckConstraint(
            "charity_number IS NULL OR length(charity_number) = 8", name="charity_number_form"
        ),
        Index("uq_organisations_name_key", "name_key", unique=True),
        CheckConstraint(
            "ew_charity_number IS NULL OR length(ew_charity_number) BETWEEN 6 AND 8",
            name="ew_charity_number_form",
        ),
        CheckConstraint(
            "ni_charity_number IS NULL OR length(ni_charity_number) BETWEEN 5 AND 6",
            name="ni_charity_number_form",
        ),
        CheckConstraint(
            "local_authority_scheme IS NULL"
            " OR local_authority_scheme IN ('GB-LAS', 'GB-LAE', 'GB-PLA', 'GB-LANI')",
            name="local_authority_scheme_known",
        ),
        CheckConstraint(
            "location_code IS NULL OR length(location_code) = 9", name="location_code_form"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    name_key: Mapped[str] = mapped_column(String(200), server_default="")
    """``ledger.names.name_key`` of the name: no two organisations may look the same."""
    # Registered numbers, each checked by ledger.identifiers on entry. ``charity_number`` is the
    # Scottish one (OSCR, SC and 6 digits); ``local_authority_code`` is the register's code and
    # ``local_authority_scheme`` its register (NULL: GB-LAS, Scotland).
    charity_number: Mapped[str | None] = mapped_column(String(8))
    company_number: Mapped[str | None] = mapped_column(String(10))
    local_authority_code: Mapped[str | None] = mapped_column(String(8))
    ew_charity_number: Mapped[str | None] = mapped_column(String(8))
    ni_charity_number: Mapped[str | None] = mapped_column(String(6))
    local_authority_scheme: Mapped[str | None] = mapped_column(String(8))
    other_identifier: Mapped[str | None] = mapped_column(String(100))
    # Where it is: an ONS/GSS code (S12000005) and the place's name.
    location_code: Mapped[str | None] = mapped_column(String(9))
    location_name: Mapped[str | None] = mapped_column(String(100))
    # Part of the accountable body (a post, an internal service): money allocated to it is
    # internal spend, not a grant.
    is_internal: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    roles: Mapped[list[OrganisationRole]] = relationship(
        back_populates="organisation", cascade="all, delete-orphan", lazy="selectin"
    )

    @property
    def role_names(self) -> set[str]:
        return {r.role for r in self.roles}

    @validates("name")
    def _keyed(self, _key: str, name: str) -> str:
        self.name_key = name_key(name)
        return name


class OrganisationRole(Base):
    __tablename__ = "organisation_roles"
    __table_args__ = (
        UniqueConstraint("organisation_id", "role", name="uq_organisation_roles_org_role"),
        CheckConstraint(_in("role", ORGANISATION_ROLES), name="role_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    role: Mapped[str] = mapped_column(String(20))

    organisation: Mapped[Organisation] = relationship(back_populates="roles")


class FundingStream(Base):
    """A stream of money: who awards it (``funder``) and where it ultimately comes from.

    The Promise Partnership is awarded by Corra Foundation but is Scottish Government money:
    its ``source`` is the Scottish Government, so a report by ultimate source counts it once.
    """

    __tablename__ = "funding_streams"
    __table_args__ = (CheckConstraint("length(name) > 0", name="name_not_empty"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    short_name: Mapped[str | None] = mapped_column(String(40))
    funder_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    source_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))

    funder: Mapped[Organisation] = relationship(foreign_keys=[funder_id])
    source: Mapped[Organisation] = relationship(foreign_keys=[source_id])


class Pot(Base):
    """Money held for a purpose and administered by one organisation.

    A top-level pot is funded by awards. A delegated pot is opened by a delegation (an allocation
    to an intermediary) and is funded by it alone: ``parent_allocation_id`` names that allocation.

    available = funded - allocated + returned - carried_forward - handed_back, never below zero.
    """

    __tablename__ = "pots"
    __table_args__ = (
        CheckConstraint("length(name) > 0", name="name_not_empty"),
        CheckConstraint(
            "funded_pence >= 0 AND allocated_pence >= 0 AND paid_pence >= 0"
            " AND returned_pence >= 0 AND received_pence >= 0 AND carried_forward_pence >= 0"
            " AND carried_in_pence >= 0 AND handed_back_pence >= 0",
            name="figures_not_negative",
        ),
        CheckConstraint(
            "funded_pence - allocated_pence + returned_pence - carried_forward_pence"
            " - handed_back_pence >= 0",
            name="available_not_negative",
        ),
        CheckConstraint(
            "financial_year IS NULL OR (financial_year BETWEEN 1990 AND 2200)",
            name="financial_year_range",
        ),
        Index("uq_pots_name_key", "name_key", unique=True),
        CheckConstraint("area_code IS NULL OR length(area_code) = 9", name="area_code_form"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    name_key: Mapped[str] = mapped_column(String(200), server_default="")
    """``ledger.names.name_key`` of the name: no two pots may look the same."""
    stream_id: Mapped[int | None] = mapped_column(ForeignKey("funding_streams.id"))
    administered_by_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    financial_year: Mapped[int | None] = mapped_column(Integer)
    parent_allocation_id: Mapped[int | None] = mapped_column(
        ForeignKey("allocations.id", use_alter=True), unique=True
    )
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    funded_pence: Mapped[int] = mapped_column(BigInteger, default=0)
    allocated_pence: Mapped[int] = mapped_column(BigInteger, default=0)
    paid_pence: Mapped[int] = mapped_column(BigInteger, default=0)
    returned_pence: Mapped[int] = mapped_column(BigInteger, default=0)
    received_pence: Mapped[int] = mapped_column(BigInteger, default=0)
    carried_forward_pence: Mapped[int] = mapped_column(BigInteger, default=0)
    carried_in_pence: Mapped[int] = mapped_column(BigInteger, default=0)
    handed_back_pence: Mapped[int] = mapped_column(BigInteger, default=0)

    # What publishers cite: where the figures can be checked (a web address) and the document
    # that records them, and the area the money is for (ONS/GSS code; NULL: the accountable
    # body's own place).
    data_source: Mapped[str | None] = mapped_column(String(500))
    source_document: Mapped[str | None] = mapped_column(String(300))
    area_code: Mapped[str | None] = mapped_column(String(9))
    area_name: Mapped[str | None] = mapped_column(String(100))

    stream: Mapped[FundingStream | None] = relationship()
    administered_by: Mapped[Organisation] = relationship()
    parent_allocation: Mapped[Allocation | None] = relationship(
        foreign_keys=[parent_allocation_id], post_update=True
    )

    @validates("name")
    def _keyed(self, _key: str, name: str) -> str:
        self.name_key = name_key(name)
        return name

    @property
    def available_pence(self) -> int:
        return rules.available(
            self.funded_pence,
            self.allocated_pence,
            self.returned_pence,
            self.carried_forward_pence,
            self.handed_back_pence,
        )


class Award(Base):
    """A funder's award into a pot for one UK financial year (April to March)."""

    __tablename__ = "awards"
    __table_args__ = (
        CheckConstraint("amount_pence > 0", name="amount_positive"),
        CheckConstraint("received_pence >= 0", name="received_not_negative"),
        CheckConstraint("received_pence <= amount_pence", name="received_within_award"),
        CheckConstraint("financial_year BETWEEN 1990 AND 2200", name="financial_year_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(100), unique=True)
    funder_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    stream_id: Mapped[int | None] = mapped_column(ForeignKey("funding_streams.id"))
    pot_id: Mapped[int] = mapped_column(ForeignKey("pots.id"), index=True)
    financial_year: Mapped[int] = mapped_column(Integer)
    award_date: Mapped[dt.date] = mapped_column(Date)
    amount_pence: Mapped[int] = mapped_column(BigInteger)
    received_pence: Mapped[int] = mapped_column(BigInteger, default=0)
    is_assumption: Mapped[bool] = mapped_column(Boolean, default=False)
    description: Mapped[str] = mapped_column(Text, default="")

    funder: Mapped[Organisation] = relationship()
    stream: Mapped[FundingStream | None] = relationship()
    pot: Mapped[Pot] = relationship()


class Allocation(Base):
    """Money promised from one or more pots to a recipient for a purpose.

    A plain allocation has one share (its pot); a pooled contract has a share in each funding pot.
    A delegation is an allocation to an intermediary that opens ``delegated_pot``.
    """

    __tablename__ = "allocations"
    __table_args__ = (
        CheckConstraint(_in("status", ALLOCATION_STATUSES), name="status_known"),
        CheckConstraint(
            "period_end IS NULL OR period_start IS NULL OR period_end >= period_start",
            name="period_ordered",
        ),
        CheckConstraint(
            "status IN ('provisional', 'rejected') OR approved_by IS NOT NULL",
            name="confirmed_has_approver",
        ),
        CheckConstraint("allocated_pence >= paid_pence", name="paid_within_allocated"),
        CheckConstraint("paid_pence >= returned_pence", name="returned_within_paid"),
        CheckConstraint("returned_pence >= 0", name="returned_not_negative"),
        # What waits for a second person: few rows among many, found without a scan.
        _partial_index("ix_allocations_provisional", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(100), unique=True)
    recipient_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    purpose: Mapped[str] = mapped_column(Text, default="")
    period_start: Mapped[dt.date | None] = mapped_column(Date)
    period_end: Mapped[dt.date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(12), default="provisional")
    entered_by: Mapped[str] = mapped_column(String(100))
    approved_by: Mapped[str | None] = mapped_column(String(100))
    approved_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    allows_advances: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=text("false")
    )
    """For a delegation: whether its intermediary may pay ahead of the cash handed over."""

    allocated_pence: Mapped[int] = mapped_column(BigInteger, default=0)
    paid_pence: Mapped[int] = mapped_column(BigInteger, default=0)
    returned_pence: Mapped[int] = mapped_column(BigInteger, default=0)

    recipient: Mapped[Organisation] = relationship()
    shares: Mapped[list[AllocationShare]] = relationship(
        back_populates="allocation", order_by="AllocationShare.id", lazy="selectin"
    )
    tags: Mapped[list[AllocationTag]] = relationship(
        back_populates="allocation", order_by="AllocationTag.id", lazy="selectin"
    )
    delegated_pot: Mapped[Pot | None] = relationship(
        primaryjoin="Pot.parent_allocation_id == Allocation.id", viewonly=True, uselist=False
    )

    @property
    def unpaid_pence(self) -> int:
        return self.allocated_pence - self.paid_pence

    @property
    def is_pooled(self) -> bool:
        return len(self.shares) > 1


class AllocationShare(Base):
    """One pot's part in an allocation. ``weight_pence`` is its agreed contribution, the ratio
    by which variations of a pooled contract are split."""

    __tablename__ = "allocation_shares"
    __table_args__ = (
        UniqueConstraint("allocation_id", "pot_id", name="uq_allocation_shares_alloc_pot"),
        CheckConstraint("weight_pence > 0", name="weight_positive"),
        CheckConstraint("allocated_pence >= paid_pence", name="paid_within_allocated"),
        CheckConstraint("paid_pence >= returned_pence", name="returned_within_paid"),
        CheckConstraint("returned_pence >= 0", name="returned_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    allocation_id: Mapped[int] = mapped_column(ForeignKey("allocations.id"), index=True)
    pot_id: Mapped[int] = mapped_column(ForeignKey("pots.id"), index=True)
    weight_pence: Mapped[int] = mapped_column(BigInteger)
    allocated_pence: Mapped[int] = mapped_column(BigInteger, default=0)
    paid_pence: Mapped[int] = mapped_column(BigInteger, default=0)
    returned_pence: Mapped[int] = mapped_column(BigInteger, default=0)

    allocation: Mapped[Allocation] = relationship(back_populates="shares")
    pot: Mapped[Pot] = relationship()


class AllocationTag(Base):
    """A Promise Plan action code (``WFS 1``) or foundation (``2``) an allocation serves."""

    __tablename__ = "allocation_tags"
    __table_args__ = (
        UniqueConstraint("allocation_id", "kind", "value", name="uq_allocation_tags_all"),
        CheckConstraint(_in("kind", ("action", "foundation")), name="kind_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    allocation_id: Mapped[int] = mapped_column(ForeignKey("allocations.id"), index=True)
    kind: Mapped[str] = mapped_column(String(12))
    value: Mapped[str] = mapped_column(String(12))

    allocation: Mapped[Allocation] = relationship(back_populates="tags")


class Account(Base):
    """A place money sits. ``balance_pence`` is debits minus credits.

    ``floor`` says which side of zero the balance may never cross: 'credit' accounts (a pot's
    available money, an allocation's unpaid commitment) must have balance <= 0; 'debit' accounts
    (money a funder still owes on an award) must have balance >= 0.
    """

    __tablename__ = "accounts"
    __table_args__ = (
        CheckConstraint(_in("kind", ACCOUNT_KINDS), name="kind_known"),
        CheckConstraint(_in("floor", FLOORS), name="floor_known"),
        CheckConstraint(
            "floor = 'none' OR (floor = 'debit' AND balance_pence >= 0)"
            " OR (floor = 'credit' AND balance_pence <= 0)",
            name="balance_respects_floor",
        ),
        CheckConstraint(
            "(CASE WHEN pot_id IS NULL THEN 0 ELSE 1 END)"
            " + (CASE WHEN award_id IS NULL THEN 0 ELSE 1 END)"
            " + (CASE WHEN share_id IS NULL THEN 0 ELSE 1 END) = 1",
            name="one_owner",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(60), unique=True)
    kind: Mapped[str] = mapped_column(String(12))
    floor: Mapped[str] = mapped_column(String(6))
    pot_id: Mapped[int | None] = mapped_column(ForeignKey("pots.id"), index=True)
    award_id: Mapped[int | None] = mapped_column(ForeignKey("awards.id"), index=True)
    share_id: Mapped[int | None] = mapped_column(ForeignKey("allocation_shares.id"), index=True)
    balance_pence: Mapped[int] = mapped_column(BigInteger, default=0)


class Entry(Base):
    """One balanced journal entry: what happened, when, who entered and approved it, and why.

    Posted entries are never changed; a correction is a new entry with ``reverses_id`` set.
    The database refuses UPDATE and DELETE on entries, lines and the audit log (triggers), and
    ``chain_seq`` / ``chain_sha256`` link each entry into the journal's hash chain
    (``ledger.chain``), so an alteration made around the triggers shows up in ``check``.
    ``reference`` is chosen by the client and doubles as the idempotency key: replaying an
    operation with the same reference and the same content is a no-op (``content_sha256``).
    """

    __tablename__ = "entries"
    __table_args__ = (
        CheckConstraint(_in("kind", ENTRY_KINDS), name="kind_known"),
        CheckConstraint("amount_pence > 0", name="amount_positive"),
        CheckConstraint("length(memo) > 0", name="memo_not_empty"),
        CheckConstraint("length(entered_by) > 0", name="entered_by_not_empty"),
        CheckConstraint(
            "(kind = 'reversal') = (reverses_id IS NOT NULL)", name="reversal_names_target"
        ),
        CheckConstraint("financial_year BETWEEN 1990 AND 2200", name="financial_year_range"),
        CheckConstraint("chain_seq > 0", name="chain_seq_positive"),
        CheckConstraint("length(chain_sha256) = 64", name="chain_sha256_length"),
        Index("ix_entries_pot_id", "pot_id"),
        Index("ix_entries_allocation_id", "allocation_id"),
        # A pot's latest entries, newest first, by the pot they are from or delegated to.
        Index("ix_entries_pot_id_effective_date", "pot_id", "effective_date", "id"),
        Index("ix_entries_to_pot_id_effective_date", "to_pot_id", "effective_date", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    reference: Mapped[str | None] = mapped_column(String(100), unique=True)
    content_sha256: Mapped[str] = mapped_column(String(64))
    effective_date: Mapped[dt.date] = mapped_column(Date)
    financial_year: Mapped[int] = mapped_column(Integer)
    amount_pence: Mapped[int] = mapped_column(BigInteger)
    memo: Mapped[str] = mapped_column(Text)
    entered_by: Mapped[str] = mapped_column(String(100))
    approved_by: Mapped[str | None] = mapped_column(String(100))
    posted_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    pot_id: Mapped[int | None] = mapped_column(ForeignKey("pots.id"))
    to_pot_id: Mapped[int | None] = mapped_column(ForeignKey("pots.id"))
    award_id: Mapped[int | None] = mapped_column(ForeignKey("awards.id"))
    allocation_id: Mapped[int | None] = mapped_column(ForeignKey("allocations.id"))
    reverses_id: Mapped[int | None] = mapped_column(ForeignKey("entries.id"), unique=True)
    chain_seq: Mapped[int] = mapped_column(Integer, unique=True)
    chain_sha256: Mapped[str] = mapped_column(String(64))

    lines: Mapped[list[Line]] = relationship(
        back_populates="entry", order_by="Line.id", lazy="selectin"
    )
    reverses: Mapped[Entry | None] = relationship(remote_side=[id])


class Line(Base):
    """One leg of an entry: positive pence debit the account, negative pence credit it."""

    __tablename__ = "lines"
    __table_args__ = (CheckConstraint("amount_pence <> 0", name="amount_not_zero"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("entries.id"), index=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    amount_pence: Mapped[int] = mapped_column(BigInteger)

    entry: Mapped[Entry] = relationship(back_populates="lines")
    account: Mapped[Account] = relationship(lazy="joined")


class Request(Base):
    """An act awaiting a second person's approval: a variation, payment, award, receipt,
    return, carry-forward, hand-back, reversal, award reduction, closure of an allocation or a
    whole import (the last two post no journal entry, so carry no amount).

    Until decided it holds its money: a pending increase counts against the pot's available
    balance, a pending payment or reduction against the allocation's unpaid commitment (and a
    pending reduction of a delegation against its delegated pot's available balance), a
    pending hand-back or carry-forward against its pot's. What an act needs beyond an
    allocation and an amount is kept in ``params`` (JSON).
    """

    __tablename__ = "requests"
    __table_args__ = (
        CheckConstraint(_in("kind", REQUEST_KINDS), name="kind_known"),
        CheckConstraint(_in("status", REQUEST_STATUSES), name="status_known"),
        CheckConstraint(
            f"amount_pence <> 0 OR {_in('kind', ENTRYLESS_REQUEST_KINDS)}", name="amount_not_zero"
        ),
        CheckConstraint("kind = 'vary' OR amount_pence >= 0", name="payment_positive"),
        CheckConstraint("(status = 'pending') = (decided_by IS NULL)", name="decided_has_decider"),
        CheckConstraint(
            "(status = 'approved' AND (entry_id IS NOT NULL OR"
            f" {_in('kind', ENTRYLESS_REQUEST_KINDS)}))"
            " OR (status <> 'approved' AND entry_id IS NULL)",
            name="approved_has_entry",
        ),
        CheckConstraint(
            "allocation_id IS NOT NULL OR kind NOT IN ('vary', 'pay', 'return')",
            name="names_its_subject",
        ),
        _partial_index("ix_requests_pending", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    reference: Mapped[str | None] = mapped_column(String(100), unique=True)
    content_sha256: Mapped[str] = mapped_column(String(64))
    allocation_id: Mapped[int | None] = mapped_column(ForeignKey("allocations.id"), index=True)
    pot_id: Mapped[int | None] = mapped_column(ForeignKey("pots.id"), index=True)
    params: Mapped[str] = mapped_column(Text, default="{}", server_default=text("'{}'"))
    amount_pence: Mapped[int] = mapped_column(BigInteger)
    effective_date: Mapped[dt.date] = mapped_column(Date)
    memo: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(10), default="pending")
    entered_by: Mapped[str] = mapped_column(String(100))
    entered_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    decided_by: Mapped[str | None] = mapped_column(String(100))
    decided_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    decision_note: Mapped[str | None] = mapped_column(Text)
    entry_id: Mapped[int | None] = mapped_column(ForeignKey("entries.id"))

    allocation: Mapped[Allocation | None] = relationship()
    pot: Mapped[Pot | None] = relationship()


class AuditEvent(Base):
    """Who did what, when and why, for acts that move no money (approvals, rejections,
    status changes, imports). Append-only, like the journal."""

    __tablename__ = "audit_events"
    __table_args__ = (CheckConstraint("length(actor) > 0", name="actor_not_empty"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(40))
    subject: Mapped[str] = mapped_column(String(200))
    detail: Mapped[str] = mapped_column(Text, default="")


class JournalHead(Base):
    """The one row recording the hash chain's tip: the last entry's position and chain hash.

    Writers lock it (``ledger.chain.lock_head``) to take the next position; ``check`` compares
    it with the last entry, so entries deleted from the end of the journal are noticed.
    """

    __tablename__ = "journal_head"
    __table_args__ = (
        CheckConstraint("id = 1", name="single_row"),
        CheckConstraint("last_seq >= 0", name="last_seq_not_negative"),
        CheckConstraint("length(last_sha256) = 64", name="last_sha256_length"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    last_seq: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_sha256: Mapped[str] = mapped_column(String(64))


class Setting(Base):
    """Ledger-wide policy, such as the amount below which one person may enter and approve."""

    __tablename__ = "settings"

    key: Mapped[str] = mapped_column(String(60), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


USER_ROLES = ("admin", "officer", "intermediary", "finance", "viewer")


class User(Base):
    """Someone who signs in to the web app. The journal records their ``username``.

    Roles: admin; commissioning ``officer``; ``intermediary`` administrator (scoped to the pots
    their organisation administers); ``finance``; ``viewer`` (read-only).
    """

    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint(_in("role", USER_ROLES), name="role_known"),
        CheckConstraint("length(username) > 0", name="username_not_empty"),
        CheckConstraint(
            "role <> 'intermediary' OR organisation_id IS NOT NULL",
            name="intermediary_has_organisation",
        ),
        CheckConstraint("failed_logins >= 0", name="failed_logins_not_negative"),
        CheckConstraint("session_generation >= 0", name="session_generation_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(100), unique=True)
    display_name: Mapped[str] = mapped_column(String(200), default="")
    password_hash: Mapped[str] = mapped_column(String(300))
    role: Mapped[str] = mapped_column(String(12))
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    # Raised at sign-out: a session signed in under an older generation no longer counts.
    session_generation: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    locked_until: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    last_login_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    # Set when an administrator gives a one-time password; until the person chooses their own,
    # every page sends them to change it.
    must_change_password: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=false()
    )

    organisation: Mapped[Organisation | None] = relationship()


# Feedback to the person who entered it ------------------------------------------------------

ACKNOWLEDGED_KINDS = ("allocation", "request")


class Acknowledgement(Base):
    """Someone has seen that an allocation or request they entered was rejected (and why), so
    the dashboard stops showing it to them. ``item`` is the allocation's reference or the
    request's id."""

    __tablename__ = "acknowledgements"
    __table_args__ = (
        UniqueConstraint("username", "kind", "item", name="uq_acknowledgements_username_kind_item"),
        CheckConstraint(_in("kind", ACKNOWLEDGED_KINDS), name="kind_known"),
        CheckConstraint("length(username) > 0", name="username_not_empty"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(12))
    item: Mapped[str] = mapped_column(String(100))
    acknowledged_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


# Money over time: award years and phasing, expected funding, payment schedules, reporting
# requirements and signed statements. None of these tables moves money: the journal stays the
# only record of what was awarded, allocated and paid. They record *when* and *on what terms*.

from ledger.schedule import REQUIREMENT_KINDS as REQUIREMENT_KINDS  # noqa: E402


class AwardPhasing(Base):
    """One financial year's part of a multi-year award. An award has no rows ("phasing not
    stated") or rows that add up exactly to its amount (``ledger.schedule.check_phasing``)."""

    __tablename__ = "award_phasing"
    __table_args__ = (
        UniqueConstraint("award_id", "financial_year", name="uq_award_phasing_award_year"),
        CheckConstraint("amount_pence > 0", name="amount_positive"),
        CheckConstraint("financial_year BETWEEN 1990 AND 2200", name="financial_year_range"),
        CheckConstraint("length(entered_by) > 0", name="entered_by_not_empty"),
        CheckConstraint("length(approved_by) > 0", name="approved_by_not_empty"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    award_id: Mapped[int] = mapped_column(ForeignKey("awards.id"), index=True)
    financial_year: Mapped[int] = mapped_column(Integer)
    amount_pence: Mapped[int] = mapped_column(BigInteger)
    entered_by: Mapped[str] = mapped_column(String(100))
    approved_by: Mapped[str] = mapped_column(String(100))
    recorded_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    award: Mapped[Award] = relationship()


class AwardReading(Base):
    """What one document says about the financial years an award covers. Two readings of one
    award that name different years are a disagreement in the sources, shown wherever the award
    is (the £337,000: Appendix 2's "Year 1" against paragraph 7.1's "2022-23 and 2023-24")."""

    __tablename__ = "award_readings"
    __table_args__ = (
        UniqueConstraint("award_id", "source", name="uq_award_readings_award_source"),
        CheckConstraint("length(source) > 0", name="source_not_empty"),
        CheckConstraint("last_year >= first_year", name="years_ordered"),
        CheckConstraint("first_year BETWEEN 1990 AND 2200", name="first_year_range"),
        CheckConstraint("last_year BETWEEN 1990 AND 2200", name="last_year_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    award_id: Mapped[int] = mapped_column(ForeignKey("awards.id"), index=True)
    source: Mapped[str] = mapped_column(String(200))
    first_year: Mapped[int] = mapped_column(Integer)
    last_year: Mapped[int] = mapped_column(Integer)
    quote: Mapped[str] = mapped_column(Text, default="")
    entered_by: Mapped[str] = mapped_column(String(100))
    recorded_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    award: Mapped[Award] = relationship()


class ExpectedFunding(Base):
    """A funder's stated commitment with no award yet (the third WFWF year). Never funded,
    available or awarded: forecasts show it apart, as expected."""

    __tablename__ = "expected_funding"
    __table_args__ = (
        CheckConstraint("amount_pence > 0", name="amount_positive"),
        CheckConstraint("financial_year BETWEEN 1990 AND 2200", name="financial_year_range"),
        CheckConstraint("length(reference) > 0", name="reference_not_empty"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(100), unique=True)
    funder_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    stream_id: Mapped[int | None] = mapped_column(ForeignKey("funding_streams.id"))
    pot_id: Mapped[int | None] = mapped_column(ForeignKey("pots.id"), index=True)
    financial_year: Mapped[int] = mapped_column(Integer)
    expected_date: Mapped[dt.date] = mapped_column(Date)
    amount_pence: Mapped[int] = mapped_column(BigInteger)
    # True when the documents state the commitment but not its amount, so the figure is assumed.
    amount_is_assumption: Mapped[bool] = mapped_column(Boolean, default=False)
    source: Mapped[str] = mapped_column(Text, default="")
    entered_by: Mapped[str] = mapped_column(String(100))
    recorded_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    funder: Mapped[Organisation] = relationship()
    stream: Mapped[FundingStream | None] = relationship()
    pot: Mapped[Pot | None] = relationship()


class Requirement(Base):
    """A dated reporting requirement on an allocation or sub-grant: due, received (by whom,
    when) or waived (by an approver, with a reason)."""

    __tablename__ = "requirements"
    __table_args__ = (
        CheckConstraint(_in("kind", REQUIREMENT_KINDS), name="kind_known"),
        CheckConstraint("length(title) > 0", name="title_not_empty"),
        CheckConstraint("(received_by IS NULL) = (received_on IS NULL)", name="received_has_date"),
        CheckConstraint("(waived_by IS NULL) = (waive_reason IS NULL)", name="waived_has_reason"),
        CheckConstraint("received_by IS NULL OR waived_by IS NULL", name="received_or_waived"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    allocation_id: Mapped[int] = mapped_column(ForeignKey("allocations.id"), index=True)
    kind: Mapped[str] = mapped_column(String(24))
    title: Mapped[str] = mapped_column(String(200))
    due_date: Mapped[dt.date] = mapped_column(Date)
    entered_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    received_by: Mapped[str | None] = mapped_column(String(100))
    received_on: Mapped[dt.date | None] = mapped_column(Date)
    waived_by: Mapped[str | None] = mapped_column(String(100))
    waive_reason: Mapped[str | None] = mapped_column(Text)

    allocation: Mapped[Allocation] = relationship()


class Instalment(Base):
    """One dated instalment of an allocation's payments (money out) or of an award's receipts
    (money in). Whether it is paid is derived from the journal's payments or receipts, oldest
    first against the earliest instalments (``ledger.schedule.instalment_states``)."""

    __tablename__ = "instalments"
    __table_args__ = (
        CheckConstraint("amount_pence > 0", name="amount_positive"),
        CheckConstraint(
            "(CASE WHEN allocation_id IS NULL THEN 0 ELSE 1 END)"
            " + (CASE WHEN award_id IS NULL THEN 0 ELSE 1 END) = 1",
            name="one_owner",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    allocation_id: Mapped[int | None] = mapped_column(ForeignKey("allocations.id"), index=True)
    award_id: Mapped[int | None] = mapped_column(ForeignKey("awards.id"), index=True)
    due_date: Mapped[dt.date] = mapped_column(Date)
    amount_pence: Mapped[int] = mapped_column(BigInteger)
    requirement_id: Mapped[int | None] = mapped_column(ForeignKey("requirements.id"))
    entered_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    requirement: Mapped[Requirement | None] = relationship()


class StatementSignoff(Base):
    """Finance's sign-off of a pot's statement: who, when, as at which date, and the journal's
    chain tip at that moment, so the signed statement can be rebuilt byte for byte and a later
    back-dated entry shows that it has been superseded."""

    __tablename__ = "statement_signoffs"
    __table_args__ = (
        CheckConstraint("length(signed_by) > 0", name="signed_by_not_empty"),
        CheckConstraint("length(chain_sha256) = 64", name="chain_sha256_length"),
        CheckConstraint("chain_seq >= 0", name="chain_seq_not_negative"),
        CheckConstraint("since IS NULL OR since <= as_at", name="since_before_as_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    pot_id: Mapped[int] = mapped_column(ForeignKey("pots.id"), index=True)
    as_at: Mapped[dt.date] = mapped_column(Date)
    since: Mapped[dt.date | None] = mapped_column(Date)
    signed_by: Mapped[str] = mapped_column(String(100))
    signed_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    chain_seq: Mapped[int] = mapped_column(Integer)
    chain_sha256: Mapped[str] = mapped_column(String(64))
    note: Mapped[str] = mapped_column(Text, default="")

    pot: Mapped[Pot] = relationship()


# Money over time: waivers and phasings waiting for a second person ---------------------------

SECOND_PERSON_KINDS = ("waive_requirement", "phase_award")
SECOND_PERSON_STATUSES = ("pending", "approved", "declined")


class SecondPersonRequest(Base):
    """A waiver of a reporting requirement, or the phasing of an award, asked for by one person
    and waiting for a second to approve (or decline) it. Approving it waives the requirement
    (``ledger.timeline.waive_requirement``) or phases the award (``set_phasing``) with both
    names; ``parts`` holds the phasing as JSON, financial year to pence."""

    __tablename__ = "second_person_requests"
    __table_args__ = (
        CheckConstraint(_in("kind", SECOND_PERSON_KINDS), name="kind_known"),
        CheckConstraint(_in("status", SECOND_PERSON_STATUSES), name="status_known"),
        CheckConstraint("length(entered_by) > 0", name="entered_by_not_empty"),
        CheckConstraint(
            "(kind = 'waive_requirement' AND requirement_id IS NOT NULL AND award_id IS NULL"
            " AND reason IS NOT NULL AND length(reason) > 0)"
            " OR (kind = 'phase_award' AND award_id IS NOT NULL AND requirement_id IS NULL"
            " AND parts IS NOT NULL)",
            name="names_its_subject",
        ),
        CheckConstraint(
            "(status = 'pending') = (decided_by IS NULL AND decided_at IS NULL)",
            name="decided_has_decider",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(24))
    requirement_id: Mapped[int | None] = mapped_column(ForeignKey("requirements.id"), index=True)
    award_id: Mapped[int | None] = mapped_column(ForeignKey("awards.id"), index=True)
    reason: Mapped[str | None] = mapped_column(Text)
    parts: Mapped[str | None] = mapped_column(Text)
    entered_by: Mapped[str] = mapped_column(String(100))
    entered_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    status: Mapped[str] = mapped_column(String(12), default="pending")
    decided_by: Mapped[str | None] = mapped_column(String(100))
    decided_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))

    requirement: Mapped[Requirement | None] = relationship()
    award: Mapped[Award | None] = relationship()
