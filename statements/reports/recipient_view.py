"""Everything one provider receives, across every pot: directly, through an intermediary, and
jointly with others.

Providers are paid from several pots: the council allocates to them from its own pots
(**directly**), an intermediary such as CTSI sub-grants to them from the pot the council delegated
to it (**through an intermediary**), and some awards go to two organisations together (Appendix 2:
"Barnardos and Action for Children: Two's Company for young single parents"). Such a **joint**
award is recorded with one recipient whose name joins the partners ("A and B", "A & B"); the
ledger does not say how the partners split it, so it is listed apart, with its partners, and never
added to the provider's own total (nor, on the partner's page, to theirs): added to both it would
be counted twice.

Names are matched as people type them: case, apostrophes and spacing do not matter (Barnardo's and
Barnardos are one name). A recipient whose whole name matches is the provider's own; one whose
name, split at " and ", " & " or ", ", has the provider as one of its parts is a joint award.

Figures are the allocations' own (allocated, paid, returned), net of every variation, payment and
return. A pooled contract is one allocation: it appears once, naming each pot it is paid from.
Rejected allocations hold no money and are left out.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger.errors import InvalidInput, NotFound
from ledger.models import Allocation, Organisation
from statements.render.formatting import money

DIRECT = "direct"
THROUGH = "through an intermediary"
JOINT = "joint"
_JOINERS = re.compile(r"\s+(?:and|&)\s+|\s*,\s*", re.IGNORECASE)
_APOSTROPHES = re.compile(r"['’‘`]")


def name_key(name: str) -> str:
    """How names are compared: ``Barnardo's`` and `` barnardos`` are one name."""
    return " ".join(_APOSTROPHES.sub("", name).casefold().split())


def partners(name: str) -> tuple[str, ...]:
    """The parties a recipient's name joins: ``Barnardos and Action for Children`` → both."""
    parts = tuple(p.strip() for p in _JOINERS.split(name) if p.strip())
    return parts if len(parts) > 1 else (name.strip(),)


@dataclass(frozen=True)
class Received:
    """One allocation to the provider (or to the provider jointly with others)."""

    reference: str
    recipient: str  # as recorded: for a joint award, the joined name
    purpose: str
    pots: tuple[str, ...]
    way: str  # DIRECT, THROUGH or JOINT
    intermediary: str | None  # who sub-granted it, when it came through an intermediary
    partners: tuple[str, ...]  # the other parties of a joint award
    status: str
    allocated_pence: int
    paid_pence: int
    returned_pence: int

    @property
    def unpaid_pence(self) -> int:
        return self.allocated_pence - self.paid_pence


@dataclass(frozen=True)
class Figures:
    allocated_pence: int = 0
    paid_pence: int = 0
    returned_pence: int = 0

    @property
    def unpaid_pence(self) -> int:
        return self.allocated_pence - self.paid_pence


def total(rows: Iterable[Received]) -> Figures:
    listed = list(rows)
    return Figures(
        sum(r.allocated_pence for r in listed),
        sum(r.paid_pence for r in listed),
        sum(r.returned_pence for r in listed),
    )


@dataclass(frozen=True)
class RecipientView:
    name: str  # as asked for
    matched: tuple[str, ...]  # recipient names recorded in the ledger that count as theirs
    direct: tuple[Received, ...]
    through: tuple[Received, ...]
    joint: tuple[Received, ...]

    @property
    def direct_total(self) -> Figures:
        return total(self.direct)

    @property
    def through_total(self) -> Figures:
        return total(self.through)

    @property
    def joint_total(self) -> Figures:
        return total(self.joint)

    @property
    def own_total(self) -> Figures:
        """Directly and through intermediaries: the provider's own money. Joint awards are not
        in it, because the ledger does not say the provider's part of them."""
        return total((*self.direct, *self.through))

    def as_json(self) -> dict[str, object]:
        def figures(f: Figures) -> dict[str, int]:
            return {
                "allocated": f.allocated_pence,
                "paid": f.paid_pence,
                "returned": f.returned_pence,
                "unpaid": f.unpaid_pence,
            }

        def row(r: Received) -> dict[str, object]:
            return {
                "reference": r.reference,
                "recipient": r.recipient,
                "purpose": r.purpose,
                "pots": list(r.pots),
                "way": r.way,
                "intermediary": r.intermediary,
                "partners": list(r.partners),
                "status": r.status,
                "allocated": r.allocated_pence,
                "paid": r.paid_pence,
                "returned": r.returned_pence,
                "unpaid": r.unpaid_pence,
            }

        return {
            "recipient": self.name,
            "matched": list(self.matched),
            "direct": [row(r) for r in self.direct],
            "through_intermediary": [row(r) for r in self.through],
            "joint": [row(r) for r in self.joint],
            "totals": {
                "direct": figures(self.direct_total),
                "through_intermediary": figures(self.through_total),
                "own": figures(self.own_total),
                "joint_listed_apart": figures(self.joint_total),
            },
        }


def recipient_names(session: Session) -> list[str]:
    """Every provider that has received an allocation, alone or jointly, for a chooser: a joint
    recipient's partners each appear once, under the name recorded for them alone if any."""
    query = select(Organisation.name).where(Organisation.id.in_(select(Allocation.recipient_id)))
    recorded = list(session.scalars(query))
    names: dict[str, str] = {name_key(n): n for n in recorded if len(partners(n)) == 1}
    for joined in recorded:
        for part in partners(joined):
            names.setdefault(name_key(part), part)
    return sorted(names.values(), key=name_key)


def build_recipient_view(
    session: Session, name: str, *, administered_by: int | None = None
) -> RecipientView:
    """What ``name`` receives. ``administered_by`` (an organisation id) keeps only allocations
    from pots that organisation administers: an intermediary sees its own sub-grants only."""
    wanted = name_key(name)
    if not wanted:
        raise InvalidInput("Give the name of the recipient", field="name")
    direct: list[Received] = []
    through: list[Received] = []
    joint: list[Received] = []
    matched: list[str] = []
    query = (
        select(Allocation)
        .join(Organisation, Organisation.id == Allocation.recipient_id)
        .where(Allocation.status != "rejected")
        .order_by(Allocation.id)
    )
    for allocation in session.scalars(query):
        recipient = allocation.recipient.name
        parts = partners(recipient)
        if name_key(recipient) == wanted:
            others: tuple[str, ...] = ()
        elif len(parts) > 1 and any(name_key(p) == wanted for p in parts):
            others = tuple(p for p in parts if name_key(p) != wanted)
        else:
            continue
        pots = [share.pot for share in allocation.shares]
        if administered_by is not None and any(
            p.administered_by_id != administered_by for p in pots
        ):
            continue
        delegated = [p for p in pots if p.parent_allocation_id is not None]
        intermediary = delegated[0].administered_by.name if delegated else None
        way = JOINT if others else (THROUGH if intermediary else DIRECT)
        row = Received(
            reference=allocation.reference,
            recipient=recipient,
            purpose=allocation.purpose,
            pots=tuple(p.name for p in pots),
            way=way,
            intermediary=intermediary,
            partners=others,
            status=allocation.status,
            allocated_pence=allocation.allocated_pence,
            paid_pence=allocation.paid_pence,
            returned_pence=allocation.returned_pence,
        )
        {DIRECT: direct, THROUGH: through, JOINT: joint}[way].append(row)
        if recipient not in matched:
            matched.append(recipient)
    if not matched:
        raise NotFound("recipient", name.strip(), "name")
    exact = [m for m in matched if name_key(m) == wanted]
    return RecipientView(
        name=exact[0] if exact else name.strip(),
        matched=tuple(matched),
        direct=tuple(direct),
        through=tuple(through),
        joint=tuple(joint),
    )


def render_text(view: RecipientView) -> str:
    """The view as plain text, amounts in pounds."""
    out = [f"What {view.name} receives, across every pot", ""]
    sections = (
        ("Directly", view.direct),
        ("Through an intermediary", view.through),
        ("Jointly with others (listed apart, not added to the totals)", view.joint),
    )
    for heading, rows in sections:
        out.append(heading)
        if not rows:
            out.append("  none")
        for r in rows:
            via = f" via {r.intermediary}" if r.intermediary else ""
            also = f"; with {', '.join(r.partners)}" if r.partners else ""
            out.append(
                f"  {r.reference}  {r.purpose} ({', '.join(r.pots)}{via}{also}), {r.status}:"
                f" allocated {money(r.allocated_pence)}, paid {money(r.paid_pence)}"
            )
        out.append("")
    own = view.own_total
    out += [
        f"Directly: {money(view.direct_total.allocated_pence)}",
        f"Through an intermediary: {money(view.through_total.allocated_pence)}",
        f"Total of its own: {money(own.allocated_pence)} allocated, {money(own.paid_pence)} paid",
        f"Jointly with others: {money(view.joint_total.allocated_pence)} (not in the total)",
    ]
    return "\n".join(out) + "\n"


@dataclass(frozen=True)
class RecipientSummary:
    """One provider's totals across every pot: its own (directly and through an intermediary)
    and, apart, the joint awards it shares."""

    name: str
    direct: Figures
    through: Figures
    joint: Figures

    @property
    def own(self) -> Figures:
        return _add(self.direct, self.through)


def _add(a: Figures, b: Figures) -> Figures:
    return Figures(
        a.allocated_pence + b.allocated_pence,
        a.paid_pence + b.paid_pence,
        a.returned_pence + b.returned_pence,
    )


def build_recipient_summary(session: Session) -> list[RecipientSummary]:
    """Every provider's totals, in one pass over the allocations, by the rules of
    :func:`build_recipient_view` (a joint award counts under each partner's joint figure)."""
    names = {name_key(n): n for n in recipient_names(session)}
    sums: dict[str, dict[str, Figures]] = {}
    query = select(Allocation).where(Allocation.status != "rejected").order_by(Allocation.id)
    for allocation in session.scalars(query):
        figures = Figures(
            allocation.allocated_pence, allocation.paid_pence, allocation.returned_pence
        )
        parts = partners(allocation.recipient.name)
        if len(parts) == 1:
            delegated = any(s.pot.parent_allocation_id is not None for s in allocation.shares)
            keys = [(name_key(parts[0]), THROUGH if delegated else DIRECT)]
        else:
            keys = [(name_key(p), JOINT) for p in parts]
        for key, way in keys:
            mine = sums.setdefault(key, {})
            mine[way] = _add(mine.get(way, Figures()), figures)
    return [
        RecipientSummary(
            name=names.get(key, key),
            direct=ways.get(DIRECT, Figures()),
            through=ways.get(THROUGH, Figures()),
            joint=ways.get(JOINT, Figures()),
        )
        for key, ways in sorted(sums.items())
    ]
