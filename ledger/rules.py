"""The money rules, once: what every writer asks before it posts.

Pure functions over plain values (pence, dates, names, statuses): no Session, no SQL. Both
writers, the one-at-a-time operations (``ledger.operations``, used by the web app and the API)
and the batch engine behind ``commonpurse import`` (``ledger.bulk``), load the state an
operation touches, ask these functions, and post what they allow. Each refusal is a typed
``LedgerError`` from ``ledger.errors`` carrying the facts; each split is the one exact split.
The invariants these rules keep are listed in ``ledger.invariants``, which ``check`` proves over
the whole stored ledger.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence

from ledger.errors import (
    AllocationClosed,
    DatedTooEarly,
    InsufficientFunds,
    InvalidInput,
    NotConfirmed,
    OverCommitted,
    OverReduced,
    OverReturned,
    SelfApproval,
)
from ledger.fy import label
from ledger.money import split_by_ratios
from ledger.names import check_name, same_person

# Statuses ------------------------------------------------------------------------------------

SETTLED = ("rejected", "closed")
"""An allocation in one of these states takes no variation, payment or new request."""


def require_open(reference: str, status: str, operation: str) -> None:
    """Rejected and closed allocations take nothing more: no variation, no payment, no
    reversal that would give them back a commitment."""
    if status == "closed":
        raise AllocationClosed(reference)
    if status == "rejected":
        raise AllocationClosed(reference, status="rejected", operation=operation)


def require_confirmed(reference: str, status: str) -> None:
    require_open(reference, status, "payment")
    if status != "confirmed":
        raise NotConfirmed(reference, status)


def require_delegation_confirmed(
    pot: str, delegation: str | None, delegation_status: str | None, what: str
) -> None:
    """Nothing is confirmed, paid or sub-granted from a delegated pot while its delegation
    awaits approval, so a provisional delegation can always be rejected whole."""
    if delegation is None or delegation_status == "confirmed":
        return
    if delegation_status == "provisional":
        raise NotConfirmed(
            delegation,
            "provisional",
            message=f"{pot} is funded by delegation {delegation}, which is awaiting approval;"
            f" no {what} can be made from it until the delegation is approved",
        )
    raise AllocationClosed(
        delegation,
        status=delegation_status or "closed",
        operation=what,
        message=f"{pot} is funded by delegation {delegation}, which is {delegation_status};"
        f" no {what} can be made from it",
    )


# Money available, committed and paid ---------------------------------------------------------


def require_available(
    pot: str,
    available_pence: int,
    held_pence: int,
    needed_pence: int,
    what: str,
    *,
    lowest: tuple[dt.date, int] | None = None,
) -> None:
    """A pot gives out no more than it has, after the money held by changes awaiting approval;
    and, for a back-dated movement, no more than it had on the leanest day from then on
    (``lowest``: that day and the available balance on it)."""
    free = available_pence - held_pence
    if needed_pence > free:
        raise InsufficientFunds(pot, free, needed_pence, held_pence=held_pence, what=what)
    if lowest is not None and needed_pence > lowest[1]:
        raise InsufficientFunds(pot, lowest[1], needed_pence, what=what, as_at=lowest[0])


def require_unpaid(
    reference: str, unpaid_pence: int, pending_pence: int, needed_pence: int, what: str
) -> None:
    """A payment or reduction takes no more than is committed and unpaid, after payments and
    reductions awaiting approval."""
    free = unpaid_pence - pending_pence
    if needed_pence > free:
        raise OverCommitted(reference, free, needed_pence, what)


def require_returnable(reference: str, paid_pence: int, returned_pence: int, needed: int) -> None:
    returnable = paid_pence - returned_pence
    if needed > returnable:
        raise OverReturned(reference, returnable, needed)


def require_cash(pot: str, cash_pence: int, needed_pence: int, what: str, on: dt.date) -> None:
    """Cash leaves a pot only if the pot holds it on the day (hand-backs; an intermediary's
    payments unless its delegation allows advances)."""
    if needed_pence > cash_pence:
        raise InsufficientFunds(
            pot, max(cash_pence, 0), needed_pence, what=what, as_at=on, figure="cash held"
        )


def require_cash_at_hand_backs(
    pot: str,
    cash_now: int,
    later: Iterable[tuple[dt.date, int]],
    since: dt.date,
    hand_back_days: Iterable[dt.date],
    needed_pence: int,
    what: str,
) -> None:
    """A pot never hands back more cash than it holds on the day, so cash that leaves it on a
    day (``since``) must still leave it holding no less than nothing on every day from then on
    when it handed money back. ``cash_now`` is today's cash before this movement; ``later``
    holds the cash movements dated after ``since``."""
    moves = [(day, change) for day, change in later if day > since]
    for day in sorted({day for day in hand_back_days if day >= since}):
        cash = cash_now - sum(change for moved, change in moves if moved > day)
        if needed_pence > cash:
            raise InsufficientFunds(
                pot,
                max(cash, 0),
                needed_pence,
                what=what,
                as_at=day,
                figure="cash held after money was handed back",
            )


# Dates ---------------------------------------------------------------------------------------


def require_not_before(date: dt.date, earliest: dt.date | None, what: str, depends_on: str) -> None:
    """Nothing is dated before what it depends on."""
    if earliest is not None and date < earliest:
        raise DatedTooEarly(what, date, depends_on, earliest)


def require_after_making(
    date: dt.date, made_on: dt.date | None, what: str, reference: str, kind: str = "allocation"
) -> None:
    """Nothing is dated before the allocation (or delegation) it acts on was made. (The words
    are made only for a refusal: this runs on every payment an import makes.)"""
    if made_on is not None and date < made_on:
        require_not_before(date, made_on, what, f"{kind} {reference} was made")


def require_distinct_name(name: str, existing: str | None, what: str, field: str) -> None:
    """A new pot or organisation may not look the same as one the ledger already has
    (``existing``: the name with the same ``name_key``, if any)."""
    if existing is not None:
        raise InvalidInput(
            f"'{name}' looks the same as the existing {what} '{existing}'; use that name, or one"
            " that cannot be mistaken for it",
            field=field,
        )


def require_award_year(pot: str, pot_year: int | None, award_year: int) -> None:
    """An award's financial year is its pot's."""
    if pot_year is not None and pot_year != award_year:
        raise InvalidInput(
            f"{pot} is the {label(pot_year)} pot; an award dated in {label(award_year)} belongs"
            " in that year's pot",
            field="date",
        )


def require_pot_stream(pot: str, pot_stream: str | None, stream: str | None) -> None:
    """A pot's funding stream is named when the pot opens, by its first award; a later award
    that names a stream names the pot's own. (Carry-forward between years needs it.)"""
    if stream is None or stream == pot_stream:
        return
    if pot_stream is None:
        raise InvalidInput(
            f"{pot} is already open in no funding stream; a pot's stream is named by the award"
            f" that opens it, so {stream} cannot be added now",
            field="stream",
        )
    raise InvalidInput(f"{pot} is in the funding stream {pot_stream}, not {stream}", field="stream")


def lowest_from(
    balance_now: int, later: Iterable[tuple[dt.date, int]], since: dt.date
) -> tuple[dt.date, int]:
    """The lowest a balance stood on any day from ``since`` on, and that day.

    ``balance_now`` is today's balance; ``later`` holds the movements dated after ``since``
    (date, change), in any order. The balance on a day is today's less what moved after it."""
    by_day: dict[dt.date, int] = {}
    for day, change in later:
        if day > since:
            by_day[day] = by_day.get(day, 0) + change
    lowest_day, balance = since, balance_now - sum(by_day.values())
    lowest = balance
    for day in sorted(by_day):
        balance += by_day[day]
        if balance < lowest:
            lowest_day, lowest = day, balance
    return lowest_day, lowest


def returnable_changes(
    movements: Iterable[tuple[dt.date, str, int, str | None]],
) -> list[tuple[dt.date, int]]:
    """How an allocation's paid-and-not-returned money moved: from its entries as (day, kind,
    amount, kind of the entry reversed if a reversal)."""
    changes = []
    for day, kind, amount, reversed_kind in movements:
        meaning, sign = (reversed_kind, -1) if kind == "reversal" else (kind, 1)
        if meaning == "pay":
            changes.append((day, sign * amount))
        elif meaning == "return":
            changes.append((day, -sign * amount))
    return changes


# Who may approve -----------------------------------------------------------------------------


MADE_BY_ALLOCATION = ("allocate", "delegate")
"""The entries an allocation is made by. An allocation made provisionally is approved when it is
confirmed, so its own entry counts, for the self-approval limit, under the allocation's approver."""


def approver(
    entered_by: str,
    approved_by: str | None,
    what: str,
    amount_pence: int,
    limit_pence: int,
    self_approved_pence: int = 0,
) -> str | None:
    """The approver to record, or None if the act waits for a second person.

    One person may enter and approve alone only while everything they have both entered and
    approved on the same allocation (for awards, the same pot), this included, stays within the
    self-approval limit: splitting an amount into rows never gets round it."""
    if not entered_by.strip():
        raise InvalidInput("Every act needs the name of the person entering it")
    if approved_by is None:
        return None
    if not approved_by.strip():
        raise InvalidInput("The approver's name cannot be blank", field="approved_by")
    check_name(approved_by, "person's", "approved_by")
    if same_person(approved_by, entered_by):
        running = self_approved_pence + abs(amount_pence)
        if running > limit_pence:
            raise SelfApproval(
                entered_by, what, abs(amount_pence), limit_pence, earlier_pence=self_approved_pence
            )
    return approved_by


def self_approved(entered_by: str, approved_by: str | None) -> bool:
    """Whether an act was entered and approved by one person (it counts against the limit)."""
    return approved_by is not None and same_person(entered_by, approved_by)


# Splits --------------------------------------------------------------------------------------


def split_to_weights(
    total_after: int,
    weights: Sequence[int],
    before: Sequence[int],
    paid: Sequence[int] | None = None,
) -> list[int]:
    """A pooled allocation's variation, by funder: what moves each share's commitment to the
    exact largest-remainder split of the new total. Splitting the running total, not each
    variation on its own, means pennies never drift towards the first funder.

    A share is never cut below what it has paid: when the exact split would do that (a
    contract reduced to about what was paid), the change is split by what each share can
    still give (its unpaid money, for a reduction; its weight, for an increase)."""
    target = split_by_ratios(total_after, list(weights))
    floor = paid if paid is not None else [0] * len(before)
    if all(t >= p for t, p in zip(target, floor, strict=True)):
        return [after - now for after, now in zip(target, before, strict=True)]
    change = total_after - sum(before)
    if change >= 0:
        return split_by_ratios(change, list(weights))
    unpaid = [max(b - p, 0) for b, p in zip(before, floor, strict=True)]
    return [-part for part in split_by_ratios(-change, unpaid)]


def pooled_split_holds(
    weights: Sequence[int], allocated: Sequence[int], paid: Sequence[int]
) -> bool:
    """I14: a pooled contract's commitments are the exact split of their total, unless a share
    was held at what it had paid (``split_to_weights``)."""
    exact = split_by_ratios(sum(allocated), list(weights))
    if list(allocated) == exact:
        return True
    return any(a == p for a, p in zip(allocated, paid, strict=True))


def split_payment(amount_pence: int, owed: Sequence[int]) -> list[int]:
    """A payment by funder, in proportion to what each still owes, so the last instalment
    clears every share exactly."""
    return split_by_ratios(amount_pence, owed)


def split_return(amount_pence: int, outstanding: Sequence[int]) -> list[int]:
    """A return by funder, in proportion to what each has paid and not had back."""
    return split_by_ratios(amount_pence, outstanding)


# Year end ------------------------------------------------------------------------------------


def require_carry_forward(
    source: str,
    target: str,
    *,
    source_year: int | None,
    target_year: int | None,
    source_stream: str | None,
    target_stream: str | None,
    source_delegated: bool,
    target_delegated: bool,
) -> None:
    """Carry-forward moves unspent money into the same named stream's pot for the next
    financial year, between pots the accountable body administers itself."""
    for name, delegated in ((source, source_delegated), (target, target_delegated)):
        if delegated:
            raise InvalidInput(
                f"{name} is a delegated pot: its money moves only through its delegation"
                " (a reduction or a return), never by carry-forward",
                field="to_pot" if name == target else "pot",
            )
    if source_stream is None or target_stream is None or source_stream != target_stream:
        raise InvalidInput(
            f"{source} ({source_stream or 'no funding stream'}) and {target}"
            f" ({target_stream or 'no funding stream'}) are not the same named funding stream;"
            " carry-forward stays within one stream",
            field="to_pot",
        )
    if source_year is None or target_year is None:
        raise InvalidInput("Both pots need a financial year to carry money forward", "to_pot")
    if target_year != source_year + 1:
        raise InvalidInput(
            f"{target} ({label(target_year)}) is not the year after {source}"
            f" ({label(source_year)}); money is carried forward one year at a time",
            field="to_pot",
        )


def require_hand_back(pot: str, delegated: bool) -> None:
    if delegated:
        raise InvalidInput(
            f"{pot} is a delegated pot: its unspent money goes back through a return on its"
            " delegation",
            field="pot",
        )


def require_award_owed(
    award: str, funder: str, owed_pence: int, pending_pence: int, needed_pence: int
) -> None:
    """An award reduction (the funder withdraws money it has not paid) takes back no more than
    the funder still owes on the award, after reductions awaiting approval. Money already
    received leaves only by a hand-back, which is limited to the cash the pot holds."""
    if needed_pence > owed_pence - pending_pence:
        raise OverReduced(award, funder, owed_pence - pending_pence, needed_pence)


def require_funder_of_pot(pot: str, funder: str, funders: Sequence[str]) -> None:
    """Money handed back goes to a funder that awarded money into the pot."""
    if funder not in funders:
        named = ", ".join(sorted(funders)) or "no funder yet"
        raise InvalidInput(
            f"{funder} has made no award into {pot} ({named}); money is handed back to the"
            " funder it came from",
            field="counterparty",
        )


def available(
    funded: int, allocated: int, returned: int, carried_forward: int, handed_back: int
) -> int:
    """A pot's available money: funded − allocated + returned − carried forward − handed back
    (before holds). The one formula the pot, the batch and every read-out use."""
    return funded - allocated + returned - carried_forward - handed_back
