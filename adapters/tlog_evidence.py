"""The proof a dispute report carries (issue 16): for every event it cites, its leaf inputs, its
stored bytes verbatim and its inclusion proof, against one signed checkpoint; plus consistency
proofs from the ledger's earlier checkpoints. `proof verify` checks it offline
(domain.proofs.check_evidence).

Deterministic: a function of the cited rows and the checkpoint chosen, which is the one named
(`--checkpoint SIZE|FILE`) or by default the first checkpoint at or after the cut.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import msgspec

from domain import signed_note as sn
from domain.errors import N_, Explained
from domain.events import parse_topic
from domain.proofs import FORMAT, CitedEvent, Evidence
from domain.upcasting import upcast_state

from .ledger_tree import LedgerTree, TreeNotBuilt
from .store import EventStoreApp, LogRow


class NoCheckpoint(Explained, LookupError):
    """No checkpoint can vouch for the report (none at or after the cut, or the one named is not ours)."""


def size_at(tree: LedgerTree, recorded: str | None) -> int:
    """Leaves the log held at a recording time (None: now)."""
    if recorded is None:
        return tree.size
    with tree._cursor() as cur:
        if not tree._has_tree_columns(cur):
            return 0
        top = tree._rows(cur, f"SELECT max(leaf_index) FROM {tree._t('ledger_chain')} WHERE recorded_at <= ?",
                         (recorded,))[0][0]
    return 0 if top is None else top + 1


def choose_checkpoint(tree: LedgerTree, cut_size: int, named: str | None) -> tuple[int, str]:
    """(tree size, signed note) of the checkpoint a report proves against."""
    if named is None:
        # the first at or after the cut whose root is this tree's (one that is not would show the
        # log changed under a signed head: `verify` says so; a report cannot prove against it)
        cp = next((c for c in sorted(tree.checkpoints(), key=lambda c: (c.tree_size, c.id))
                   if c.tree_size >= cut_size and _matches(tree, c.note)), None)
        if cp is None:
            raise NoCheckpoint(N_("no checkpoint at or after the cut (tree size {cut_size}): run "
                              "`ticketledger checkpoint`, then explain again"), cut_size=cut_size)
        return cp.tree_size, cp.note
    if named.isdigit():
        found = [c for c in tree.checkpoints() if c.tree_size == int(named)]
        if not found:
            sizes = ", ".join(str(c.tree_size) for c in tree.checkpoints()) or "none"
            raise NoCheckpoint(N_("--checkpoint {named}: no checkpoint of that tree size (sizes "
                              "signed: {sizes})"), named=named, sizes=sizes)
        return found[0].tree_size, found[0].note
    path = Path(named)
    try:
        note = path.read_text()
    except OSError as e:
        raise NoCheckpoint(N_("--checkpoint {named}: cannot be read ({reason}); name a tree size "
                          "or a saved checkpoint"), named=named, reason=e.strerror) from None
    try:
        text, _ = sn.open_note(note, [sn.Verifier.parse(k.vkey) for k in tree.log_keys()])
        cp = sn.parse_checkpoint(text.text)
    except sn.NoteError as e:
        raise NoCheckpoint(N_("--checkpoint {named}: not a checkpoint signed by this log's keys ({error})"),
                           named=named, error=e) from None
    if cp.size > tree.size or tree.root(cp.size) != cp.root:
        raise NoCheckpoint(N_("--checkpoint {named}: its root for tree size {size} is not this log's"),
                           named=named, size=cp.size)
    return cp.size, note


def _matches(tree: LedgerTree, note: str) -> bool:
    cp = sn.parse_checkpoint(sn.parse(note).text)
    try:
        return cp.size <= tree.size and tree.root(cp.size) == cp.root
    except TreeNotBuilt:
        return False


def build_evidence(app: EventStoreApp, rows: Sequence[LogRow], cut_recorded: str | None,
                   named: str | None) -> Evidence:
    tree = LedgerTree(app)
    size, note = choose_checkpoint(tree, size_at(tree, cut_recorded), named)
    from .tlog_stream import cosigned_note

    note = cosigned_note(app, note, size)  # with the witnesses' cosignatures collected so far
    cited = sorted({r.position: r for r in rows}.values(), key=lambda r: r.position)
    events = []
    for r in cited:
        leaf = tree.leaf(r.position)
        if leaf.index >= size:
            raise NoCheckpoint(N_("the checkpoint of tree size {size} does not hold the event at "
                              "position {position} (leaf {index}); name a later one with "
                              "--checkpoint"), size=size, position=r.position, index=leaf.index)
        proof = tree.inclusion_proof(leaf.index, size)
        events.append(CitedEvent(leaf=leaf, stored_b64=base64.b64encode(r.state).decode(),
                                 view=_view(r), inclusion=proof.hashes))
    signers = {(s.name, s.key_hash.hex()) for s in sn.parse(note).signatures}
    keys = [k.vkey for k in tree.log_keys() if (sn.Verifier.parse(k.vkey).name, k.key_hash) in signers]
    earlier = sorted({c.tree_size for c in tree.checkpoints() if 0 < c.tree_size < size})
    consistency = []
    for old in earlier:
        p = tree.consistency_proof(old, size)
        consistency.append(p)
    return Evidence(format=FORMAT, checkpoint=note, log_keys=keys, events=events, consistency=consistency,
                    ticket=_ticket(cited))


def _ticket(rows: Sequence[LogRow]) -> str | None:
    """The ticket the rows are about (explain's rows: one ticket, its asset, its contract)."""
    for r in rows:
        if r.topic.startswith("ticket.") and r.originator_version == 1:
            state = msgspec.json.decode(r.state)
            return state.get("id") if isinstance(state, dict) else None
    return None


def _view(r: LogRow) -> Any:
    _, name, version = parse_topic(r.topic)
    return msgspec.json.decode(upcast_state(name, version, r.state))


def report_proofs(app: EventStoreApp, rows: Sequence[LogRow], cut_recorded: str | None,
                  named: str | None) -> dict[str, Any]:
    """What `explain` puts under the report's "proofs": the evidence, or why there is none."""
    try:
        ev = build_evidence(app, rows, cut_recorded, named)
    except TreeNotBuilt as e:
        if named:
            raise NoCheckpoint(str(e)) from None
        return {"missing": f"{e}"}
    except NoCheckpoint as e:
        if named:
            raise
        return {"missing": str(e)}
    cp = sn.parse_checkpoint(sn.parse(ev.checkpoint).text)
    from .tlog_stream import note_cosignatures

    return {"checkpoint_size": cp.size, "origin": cp.origin, "evidence": msgspec.to_builtins(ev),
            "cosignatures": note_cosignatures(app, ev.checkpoint, cp.size)}
