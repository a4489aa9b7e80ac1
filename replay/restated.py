"""What a statement's restatement row says (issue 17): a clock's verdict, or a ticket's money,
as it was and as it is. Kept apart from replay/statement.py, which only calls these, so that the
money a restatement lists is said in one place for the HTML, the PDF and the workbook.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .explanations import payer_undetermined, verdict_short
from .i18n import texts, word


def _(message: str) -> str:
    """Marks a message for the catalog; translated where it is used (Texts.__call__)."""
    return message


def restated_what(x: Mapping[str, Any], lang: str) -> str:
    """What changed: the clock, or the ticket's money (a row with `money`)."""
    if x.get("money"):
        return texts(lang)(_("What each side owes"))
    return word(lang, "clock", x["clock"])


def restated_said(x: Mapping[str, Any], side: str, lang: str) -> str:
    """The row's `before` or `after` in a few words: a verdict, or the money each side owes."""
    if not x.get("money"):
        return verdict_short(x[side], lang)
    m = x[side]
    t = texts(lang)
    if m is None:  # the ticket's money was not on the previous statement's record yet
        return t(_("nothing recorded"))
    if payer_undetermined(m):
        said = t(_("undetermined: parts and labour worth {value}"),
                 value=t.money((m.get("parts_value_fen") or 0) + (m.get("labour_value_fen") or 0)))
    else:
        said = t(_("the customer pays {customer}; borne by the supplier (at quoted price) {supplier}"),
                 customer=t.money(m["customer_pays_fen"]), supplier=t.money(m["supplier_pays_fen"]))
    parts = [said]
    if m.get("losses_claimed_fen"):
        parts.append(t(_("losses claimed {value} (supplier liable)") if m.get("supplier_liable_for_losses")
                       else _("losses claimed {value}"), value=t.money(m["losses_claimed_fen"])))
    other = x["before" if side == "after" else "after"]
    if other is not None and (other.get("parts_payer"), other.get("labour_payer")) != (
            m.get("parts_payer"), m.get("labour_payer")):  # who pays changed: say who, not only how much
        parts.append(t(_("parts: {parts}, labour: {labour}"), parts=word(lang, "payer", m.get("parts_payer")),
                       labour=word(lang, "payer", m.get("labour_payer"))))
    return t.separated(parts)


def restated_cut_said(cut: Mapping[str, int] | None, lang: str) -> str:
    """The line under a restatement list whose tickets were cut (adapters.statements.RESTATED_TICKETS_MAX),
    empty when none were."""
    if not cut:
        return ""
    t = texts(lang)
    return t(_("Only the first {replayed} of {tickets} tickets with facts recorded since the previous statement "
               "(by ticket id) were checked for restatements; the others' are not listed."),
             replayed=t.number(cut["replayed"]), tickets=t.number(cut["tickets"]))
