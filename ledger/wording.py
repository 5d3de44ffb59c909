"""What both writers say about accounts and pots, said once.

Pure functions over plain values (names and references): no Session, no SQL. The one-at-a-time
operations (``ledger.operations`` and ``ledger.journal``) and the batch engine behind
``commonpurse import`` (``ledger.bulk``) name accounts in their refusals, and refuse a second
pot of the same name or an award into a delegated pot, in these words.
"""

from __future__ import annotations

from ledger.errors import InvalidInput

POT_ACCOUNT_WORDS = {
    "available": "{pot}'s available balance",
    "cash": "{pot}'s cash",
    "due_in": "what {pot} is still owed by its delegation",
}


def pot_account(kind: str, pot_name: str) -> str:
    """How a refusal names a pot's account: "WFWF 2022-23's available balance"."""
    return POT_ACCOUNT_WORDS[kind].format(pot=pot_name)


def award_account(funder_name: str, award_reference: str) -> str:
    """How a refusal names what a funder still owes on an award."""
    return f"what {funder_name} still owes on award {award_reference}"


def share_account(allocation_reference: str, pot_name: str) -> str:
    """How a refusal names an allocation's unpaid commitment from one pot."""
    return f"allocation {allocation_reference}'s unpaid commitment from {pot_name}"


def require_new_pot(name: str, exists: bool) -> None:
    """Pot names are unique: a second pot of the same name is refused."""
    if exists:
        raise InvalidInput(f"There is already a pot called '{name}'", field="to_pot")


def require_awardable(pot_name: str, delegated: bool) -> None:
    """A delegated pot is funded by its delegation, never by an award."""
    if delegated:
        raise InvalidInput(
            f"{pot_name} is a delegated pot: it is funded by its delegation, not by awards",
            field="pot",
        )


ACTS = {
    "award": "award ",
    "receive": "receipt ",
    "vary": "a variation of ",
    "pay": "a payment on ",
    "return": "a return on ",
}
"""How a refusal names an act by its kind: "a payment on WFWF-22-02", "receipt RC-1". Any other
kind is named by itself: "sub-grant SG-3", "pooled contract PC-1"."""


def act(kind: str, reference: str) -> str:
    """How a refusal (the self-approval limit, for one) names what is being done."""
    return ACTS.get(kind, kind + " ") + reference


def first_award(funder_name: str, pot_name: str) -> str:
    """What a receipt may not be dated before."""
    return f"{funder_name}'s first award into {pot_name}"


def default_memo(what: str, recipient_name: str) -> str:
    """The reason an allocation records when none is given: "Sub-grant to Homestart"."""
    return f"{what.capitalize()} to {recipient_name}"


def approved_on_entry(reference: str) -> tuple[str, str, str]:
    """What the audit log records when an allocation is approved as it is entered: its action,
    subject and detail."""
    return "approve", f"allocation {reference}", "approved on entry"


def allocation_word(delegated_sources: list[bool], to_pot: str | None) -> str:
    """What an allocation is called, by whether each pot funding it is a delegated pot: a
    delegation (it opens ``to_pot``), a sub-grant (from an intermediary's pot), a pooled
    contract (several pots) or an allocation."""
    if to_pot:
        return "delegation"
    if any(delegated_sources):
        return "sub-grant"
    return "pooled contract" if len(delegated_sources) > 1 else "allocation"
