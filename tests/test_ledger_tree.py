"""The Merkle tree kept by the recording transaction, on each real store: its roots and proofs
agree with a tree computed apart from the store; an older ledger gets its tree built; signed
checkpoints name their key and stay verifiable after a rotation."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from adapters.ledger import Ledger
from adapters.ledger_tree import LedgerTree, TreeNotBuilt
from adapters.store import StoreConfig, iter_log
from domain import leaf as lf
from domain import merkle
from domain import signed_note as sn
from domain.proofs import unb64
from tests import rfc9162

from .domainkit import Desk

NOW = datetime(2026, 11, 1, tzinfo=UTC)


def record(ledger: Ledger, desk: Desk, tickets: range, batch: int = 1) -> None:
    facts = [desk.open(f"T{i}", "A1", "2025-10-01T09:00") for i in tickets]
    for i in range(0, len(facts), batch):
        assert {o.status for o in ledger.execute_many(facts[i:i + batch], now=NOW)} == {"recorded"}


def leaves_apart(ledger: Ledger) -> list[bytes]:
    """Leaf bytes v1 of every event, computed from the log rows without the tree."""
    return [lf.encode(lf.Leaf(index=i, position=r.position, recorded_at=r.recorded_at,
                              originator_id=r.originator_id, originator_version=r.originator_version,
                              topic=r.topic, state_sha256=lf.state_sha256(r.state)))
            for i, r in enumerate(iter_log(ledger))]


def test_the_tree_follows_every_recording(ledger: Ledger) -> None:
    desk = Desk()
    ledger.execute_many([desk.contract("000"), desk.asset("A1")], now=NOW)
    record(ledger, desk, range(7), batch=1)
    record(ledger, desk, range(7, 30), batch=5)
    tree = LedgerTree(ledger)
    leaves = leaves_apart(ledger)
    assert tree.size == len(leaves) == 32 and tree.is_complete()
    for n in (1, 2, 3, 17, 31, 32):
        assert tree.root(n) == rfc9162.mth(leaves[:n])
    positions = [r.position for r in iter_log(ledger)]
    for i in (0, 5, 31):
        assert tree.leaf_index(positions[i]) == i
        p = tree.inclusion_proof(i, 32)
        merkle.verify_inclusion(i, 32, merkle.leaf_hash(leaves[i]), [unb64(h) for h in p.hashes], tree.root(32))
        assert lf.encode(tree.leaf(positions[i])) == leaves[i]
    c = tree.consistency_proof(9, 32)
    assert [unb64(h) for h in c.hashes] == rfc9162.proof(9, leaves)
    with pytest.raises(TreeNotBuilt):
        tree.inclusion_proof(0, 33)


def test_a_new_ledger_opened_again_goes_on_with_the_same_tree(store_config: StoreConfig) -> None:
    desk = Desk()
    with_ledger = Ledger.open(store_config)
    with_ledger.execute_many([desk.contract("000"), desk.asset("A1")], now=NOW)
    record(with_ledger, desk, range(5))
    with_ledger.close()
    again = Ledger.open(store_config)
    record(again, desk, range(5, 9))
    assert LedgerTree(again).root(11) == rfc9162.mth(leaves_apart(again))
    again.close()


def drop_tree(ledger: Ledger) -> None:
    """Make the ledger look recorded before the tree existed: no tree columns."""
    tree = LedgerTree(ledger)
    with tree._cursor(commit=True) as cur:
        if tree.pg:
            cur.execute(f'ALTER TABLE "{tree.schema}".ledger_chain DROP COLUMN leaf_index, DROP COLUMN tree')
        else:
            cur.execute("CREATE TABLE old_chain (position INTEGER PRIMARY KEY, recorded_at TEXT NOT NULL, "
                        "state_sha256 TEXT NOT NULL, link TEXT NOT NULL)")
            cur.execute("INSERT INTO old_chain SELECT position, recorded_at, state_sha256, link FROM ledger_chain")
            cur.execute("DROP TABLE ledger_chain")
            cur.execute("ALTER TABLE old_chain RENAME TO ledger_chain")


def older_ledger(config: StoreConfig, desk: Desk, tickets: range, batch: int = 1) -> Ledger:
    """A ledger recorded before the tree existed (no tree columns), opened again."""
    old = Ledger.open(config)
    old.execute_many([desk.contract("000"), desk.asset("A1")], now=NOW)
    record(old, desk, tickets, batch)
    drop_tree(old)
    old.close()
    return Ledger.open(config)  # opening writes nothing new into an old ledger


def test_an_older_ledger_records_without_the_tree_until_it_is_built(store_config: StoreConfig) -> None:
    desk = Desk()
    app = older_ledger(store_config, desk, range(4))
    record(app, desk, range(4, 6))
    tree = LedgerTree(app)
    assert (tree.size, tree.is_complete()) == (0, False)
    with pytest.raises(TreeNotBuilt):
        tree.inclusion_proof(0, 1)
    assert tree.build() == 8
    record(app, desk, range(6, 9))  # recording after the build extends the built tree
    assert tree.size == 11 and tree.is_complete()
    assert tree.root(11) == rfc9162.mth(leaves_apart(app))
    assert tree.build() == 0
    app.close()


def test_checkpoints_name_their_key_and_old_keys_stay_verifiable(ledger: Ledger) -> None:
    desk = Desk()
    ledger.execute_many([desk.contract("000"), desk.asset("A1")], now=NOW)
    tree = LedgerTree(ledger)
    first = sn.Signer("ticketledger.test/log", bytes(32))
    cp1 = tree.sign_checkpoint(first)
    record(ledger, desk, range(3))
    second = sn.Signer("ticketledger.test/log", bytes(range(32)))
    tree.add_key(second.verifier, retire_others=True)
    cp2 = tree.sign_checkpoint(second)
    with pytest.raises(ValueError, match="retired"):
        tree.sign_checkpoint(first)
    keys = [sn.Verifier.parse(k.vkey) for k in tree.log_keys()]
    assert [k.retired_at is None for k in tree.log_keys()] == [False, True]
    n1, _ = sn.open_note(cp1.note, keys)
    n2, good = sn.open_note(cp2.note, keys)
    assert sn.parse_checkpoint(n1.text).size == 2 and sn.parse_checkpoint(n2.text).size == 5
    assert [g.key_hash.hex() for g in good] == [cp2.key_hash]
    assert tree.checkpoint_covering(3) == cp2 and tree.checkpoint_covering(1) == cp1
    assert tree.latest_checkpoint() == cp2


def test_two_writers_and_a_failed_transaction_leave_the_tree_in_step(store_config: StoreConfig) -> None:
    """Writers take turns on one store (each recorder's cached right edge goes stale and is read
    back), and a transaction that fails after its chain rows were inserted records no leaf."""
    desk = Desk()
    a, b = Ledger.open(store_config), Ledger.open(store_config)
    a.execute_many([desk.contract("000"), desk.asset("A1")], now=NOW)
    for i in range(0, 12, 3):
        record(a if i % 2 else b, desk, range(i, i + 3), batch=2)
    tree = LedgerTree(a)
    with tree._cursor(commit=True) as cur:
        if tree.pg:
            cur.execute(f'CREATE FUNCTION "{tree.schema}".boom() RETURNS trigger LANGUAGE plpgsql AS '
                        "$$ BEGIN IF NEW.command_id LIKE 'boom%' THEN RAISE EXCEPTION 'boom'; END IF; RETURN NEW; END $$")
            cur.execute(f'CREATE TRIGGER boom BEFORE INSERT ON "{tree.schema}".ledger_commands '
                        f'FOR EACH ROW EXECUTE FUNCTION "{tree.schema}".boom()')
        else:
            cur.execute("CREATE TRIGGER boom BEFORE INSERT ON ledger_commands WHEN NEW.command_id LIKE 'boom%' "
                        "BEGIN SELECT RAISE(ABORT, 'boom'); END")
    before = tree.size
    import msgspec

    fact = msgspec.structs.replace(desk.open("T-boom", "A1", "2025-10-01T09:00"), command_id="boom-1")
    with pytest.raises(Exception, match="boom"):
        a.execute_many([fact], now=NOW)
    assert tree.size == before == 14
    record(a, desk, range(12, 14))
    record(b, desk, range(14, 15))
    assert tree.size == 17 and tree.root(17) == rfc9162.mth(leaves_apart(a))
    a.close()
    b.close()


def test_a_build_in_batches_takes_in_what_is_recorded_between_them(
        store_config: StoreConfig, monkeypatch: pytest.MonkeyPatch) -> None:
    import adapters.ledger_tree as lt

    monkeypatch.setattr(lt, "BUILD_BATCH", 3)
    desk = Desk()
    app = older_ledger(store_config, desk, range(9), batch=2)
    tree = LedgerTree(app)
    seen: list[tuple[int, int]] = []

    def progress(added: int, total: int) -> None:
        if not seen:  # a recording between two batches: its event gets its leaf from the build
            record(app, desk, range(9, 11))
        seen.append((added, total))

    assert tree.build(progress) == 13 and tree.is_complete()
    assert [a for a, _ in seen] == [3, 6, 9, 12, 13]
    record(app, desk, range(11, 12))  # and the recorder extends the built tree
    assert tree.root(14) == rfc9162.mth(leaves_apart(app))
    app.close()
