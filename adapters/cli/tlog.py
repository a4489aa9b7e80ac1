"""Transparency-log commands (issue 16): checkpoint, prove, proof verify.

`checkpoint` builds the tree of an older ledger when it is missing (the migration), then signs
the current tree head with the log key (adapters/log_key.py). `prove` prints RFC 9162 proofs as
JSON (domain/proofs.py). `proof verify` checks a dispute report offline: no data folder, no
network, only the report, the verifier key and optionally a checkpoint saved earlier.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec

from domain.errors import N_

from . import EXIT_FOUND, UserError, positive_int
from .output import said, speak

if TYPE_CHECKING:
    from domain.proofs import Finding
    from replay.i18n import Texts

# codes of this module's errors (errors.CODES lists their meaning)
E_NO_KEY = "TL-E167"
E_NOT_BUILT = "TL-E168"
E_REPORT = "TL-E160"
E_SIZE = "TL-E169"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("checkpoint", help=N_("sign the log's current tree head (C2SP tlog-checkpoint); --list shows them"),
                       description=N_("Sign the current head of the log's Merkle tree with the log key, as a C2SP "
                                   "signed note, and keep it in the ledger. A ledger recorded before the tree "
                                   "existed gets its tree built first; its first checkpoint vouches only for the "
                                   "history it holds now."))
    p.add_argument("--list", action="store_true", help=N_("list the checkpoints signed so far and the log's keys"))
    p.add_argument("--rotate-key", action="store_true",
                   help=N_("replace the log key by a new one (the old verifier key stays listed and verifiable), "
                        "then sign with the new key"))
    p.add_argument("--out", default=None, metavar="FILE", help=N_("also write the signed note, verbatim, to FILE"))
    p.set_defaults(func=cmd_checkpoint)

    p = sub.add_parser("prove", help=N_("print an inclusion or consistency proof of the log as JSON (RFC 9162)"))
    psub = p.add_subparsers(dest="what", metavar="inclusion|consistency", required=True)
    a = psub.add_parser("inclusion", help=N_("the audit path of the event at POSITION"))
    a.add_argument("position", type=positive_int, metavar="POSITION")
    a.add_argument("--size", type=positive_int, default=None, metavar="N",
                   help=N_("tree size to prove against (default: the latest checkpoint holding it, else the tree)"))
    a.set_defaults(func=cmd_prove_inclusion)
    a = psub.add_parser("consistency", help=N_("that the log of NEW_SIZE events only appended to the one of OLD_SIZE"))
    a.add_argument("old", type=positive_int, metavar="OLD_SIZE")
    a.add_argument("new", type=positive_int, nargs="?", default=None, metavar="NEW_SIZE",
                   help=N_("default: the latest checkpoint's size"))
    a.set_defaults(func=cmd_prove_consistency)

    p = sub.add_parser("proof", help=N_("check a dispute report's proof offline (`proof verify REPORT`)"))
    psub = p.add_subparsers(dest="what", metavar="verify", required=True)
    a = psub.add_parser("verify", help=N_("check a report from `explain --format json|html` with no data folder and no network"),
                        description=N_("Recompute every cited event's leaf from the bytes in the report, check each "
                                    "inclusion proof against the report's signed checkpoint, the checkpoint's "
                                    "signature, and (with --checkpoint) that the log only grew since a checkpoint "
                                    "you saved. Exit 0 when everything holds, 1 when a check fails (naming the event). "
                                    "The report's verdicts and amounts are not part of the proof: "
                                    "`explain` on the ledger computes them again from the events."))
    a.add_argument("report", metavar="REPORT")
    a.add_argument("--log-key", action="append", default=[], metavar="KEY",
                   help=N_("the log's verifier key, from your contract annex (NAME+HASH+KEY, or a file holding it); "
                        "repeat for keys after a rotation"))
    a.add_argument("--checkpoint", default=None, metavar="SAVED",
                   help=N_("a checkpoint you saved earlier (the signed note exactly as received)"))
    a.add_argument("--consistency", action="append", default=[], metavar="PROOF.json",
                   help=N_("a proof from `prove consistency` linking your saved checkpoint to the report's"))
    a.add_argument("--witness-key", action="append", default=[], metavar="KEY",
                   help=N_("require this witness's cosignature (C2SP tlog-cosignature/v1) on the report's checkpoint: "
                        "its verifier key, as `ticketledger witness` printed it, or a file holding it; repeatable"))
    a.set_defaults(func=cmd_proof_verify)


# --- checkpoint ---------------------------------------------------------------------------


def _data_dir(args: argparse.Namespace) -> Path:
    return Path(args.data_dir)


def build_tree(ledger: Any) -> int:
    """Build what is missing of the tree (with progress on a terminal); the leaves added."""
    from ..ledger_tree import LedgerTree
    from .output import Progress

    tree = LedgerTree(ledger)
    if tree.is_complete():
        return 0
    bar = Progress("building the log's Merkle tree", unit="events", every=50_000)
    shown = [0]

    def progress(done: int, total: int) -> None:
        bar.update(total=total)
        bar.add(done - shown[0])
        shown[0] = done

    try:
        return tree.build(progress)
    finally:
        bar.done()


def load_signer(args: argparse.Namespace) -> Any:
    from .. import log_key

    try:
        return log_key.load(_data_dir(args))
    except log_key.KeyError_ as e:
        raise UserError(said(e), code=E_NO_KEY) from None


def cmd_checkpoint(args: argparse.Namespace) -> int:
    from .. import log_key
    from ..ledger_tree import LedgerTree
    from .core import ledger_for
    from .output import emit
    from .views import writable_file

    if args.out and not args.list:  # bad input records nothing: no checkpoint signed for a file it cannot write
        writable_file("--out", args.out, "checkpoint.note")
    ledger = ledger_for(args)
    try:
        tree = LedgerTree(ledger)
        if args.list:
            cps = [{"id": c.id, "tree_size": c.tree_size, "key_hash": c.key_hash, "signed_at": c.signed_at}
                   for c in tree.checkpoints()]
            if args.json:
                emit(cps, True)
                return 0
            from .core import _ledger_zone
            from .output import Column

            zone = _ledger_zone(args)
            _ = speak(zone)
            emit(cps, False, [Column("id", N_("checkpoint"), "number"), Column("tree_size", N_("tree size"), "number"),
                              Column("key_hash", N_("key")), Column("signed_at", N_("signed at"), "time")],
                 title=_("checkpoints; times in {zone}", zone=_.zone_name(zone)), zone=zone, lang=_.lang)
            for k in tree.log_keys():
                state = _("retired {at}", at=_.time(k.retired_at, zone)) if k.retired_at else _("current")
                print(_("log key {key} ({state}, added {added})", key=k.vkey, state=state, added=_.time(k.added_at, zone)))
            return 0
        if args.rotate_key:
            load_signer(args)
            try:
                old, signer = log_key.rotate(_data_dir(args))
            except log_key.KeyError_ as e:
                raise UserError(said(e), code=E_NO_KEY) from None
            tree.add_key(old.verifier)
            tree.add_key(signer.verifier, retire_others=True)
            from .core import _ledger_zone

            _ = speak(_ledger_zone(args))
            print(_("new log key: {key} (the old one, {old}, is retired and stays listed: what it signed "
                    "still verifies); give the new verifier key to your customers",
                    key=signer.verifier.vkey, old=old.verifier.vkey))
        else:
            signer = load_signer(args)
        added = build_tree(ledger)
        # a head already signed is not signed again (a new key is: --rotate-key signs with it)
        cp = None if args.rotate_key else _unchanged_head(tree)
        signed_now = cp is None
        if cp is None:
            try:
                cp = tree.sign_checkpoint(signer)
            except ValueError as e:
                raise UserError(said(e), code=E_NO_KEY) from None
    finally:
        ledger.close()
    if args.out:
        try:
            Path(args.out).write_text(cp.note)
        except OSError as e:
            _ = speak()
            raise UserError(_("--out {out}: cannot be written ({reason}); the checkpoint is "
                              "signed and kept in the ledger (`checkpoint --list`); name a file "
                              "you can write", out=args.out, reason=e.strerror), code="TL-E033") from None
    if args.json:
        sys.stdout.write(msgspec.json.encode({**msgspec.structs.asdict(cp), "verifier_key": signer.verifier.vkey,
                                              "tree_built_now": added, "signed_now": signed_now}).decode() + "\n")
        return 0
    from .core import _ledger_zone

    _ = speak(_ledger_zone(args))  # as `checkpoint --list` speaks
    if not signed_now:  # stdout is still the log's signed head: the one signed before
        sys.stdout.write(cp.note)
        print(_("the log has not grown since checkpoint {id} (tree size {size}); nothing signed; verifier key {key}",
                id=cp.id, size=cp.tree_size, key=signer.verifier.vkey), file=sys.stderr)
        return 0
    if added:
        print(_("built the Merkle tree of {n} events recorded before it existed; this first checkpoint "
                "vouches for the history the log holds now, not for what it held before", n=f"{added:,}"),
              file=sys.stderr)
    sys.stdout.write(cp.note)
    print(_("checkpoint {id}: tree size {size}, verifier key {key}", id=cp.id, size=cp.tree_size,
            key=signer.verifier.vkey), file=sys.stderr)
    return 0


def _unchanged_head(tree: Any) -> Any:
    """The latest checkpoint when the log has not grown since it and its root is still the tree's
    (one whose root is not shows the log changed under a signed head: that is signed again, and
    `verify` says so); else None."""
    latest = tree.latest_checkpoint()
    if latest is None or latest.tree_size != tree.size:
        return None
    from domain import signed_note as sn

    try:
        root = sn.parse_checkpoint(sn.parse(latest.note).text).root
    except sn.NoteError:
        return None
    return latest if tree.root(latest.tree_size) == root else None


# --- prove --------------------------------------------------------------------------------


def _tree(args: argparse.Namespace) -> tuple[Any, Any]:
    from ..ledger_tree import LedgerTree
    from .core import ledger_for

    ledger = ledger_for(args)
    return ledger, LedgerTree(ledger)


def _print(obj: Any) -> None:
    sys.stdout.write(msgspec.json.format(msgspec.json.encode(obj), indent=2).decode() + "\n")


def cmd_prove_inclusion(args: argparse.Namespace) -> int:
    from ..ledger_tree import TreeNotBuilt

    ledger, tree = _tree(args)
    try:
        try:
            leaf = tree.leaf(args.position)
        except TreeNotBuilt as e:
            raise UserError(said(e), code=E_NOT_BUILT) from None
        except LookupError as e:
            _ = speak()
            raise UserError(_("{error}: name a position of the log (`ticketledger log` shows them)",
                              error=said(e)), code="TL-E021") from None
        note = None
        size = args.size
        if size is None:
            cp = tree.latest_checkpoint()
            if cp is not None and cp.tree_size > leaf.index:
                size, note = cp.tree_size, cp.note
            else:
                size = tree.size
        else:
            note = next((c.note for c in tree.checkpoints() if c.tree_size == size), None)
        if not leaf.index < size <= tree.size:
            _ = speak()
            raise UserError(_("--size {size}: the event at position {position} is leaf {index}; "
                              "name a tree size above it and at most {tree_size}",
                              size=size, position=args.position, index=leaf.index,
                              tree_size=tree.size), code=E_SIZE)
        proof = tree.inclusion_proof(leaf.index, size)
    finally:
        ledger.close()
    _print({**msgspec.structs.asdict(msgspec.structs.replace(proof, position=args.position)),
            "leaf": leaf, "checkpoint": note})
    return 0


def cmd_prove_consistency(args: argparse.Namespace) -> int:
    ledger, tree = _tree(args)
    try:
        new, note = args.new, None
        if new is None:
            cp = tree.latest_checkpoint()
            if cp is None:
                _ = speak()
                raise UserError(_("no checkpoint yet: name NEW_SIZE, or sign one with "
                                  "`ticketledger checkpoint`"),
                                code=E_SIZE)
            new, note = cp.tree_size, cp.note
        else:
            note = next((c.note for c in tree.checkpoints() if c.tree_size == new), None)
        built = tree.size
        if not args.old <= new <= built:
            _ = speak()
            raise UserError(_("sizes {old} to {new}: write OLD_SIZE <= NEW_SIZE <= {built} (the "
                              "tree's size)", old=args.old, new=new, built=built),
                            code=E_SIZE)
        proof = tree.consistency_proof(args.old, new)
    finally:
        ledger.close()
    _print(msgspec.structs.replace(proof, checkpoint=note))
    return 0


# --- proof verify (offline) -----------------------------------------------------------------

EVIDENCE_TAG = re.compile(r'<script type="application/json" id="ticketledger-evidence">(.*?)</script>', re.S)


HTML_LANG = re.compile(r'<html lang="([A-Za-z_-]+)"')
PDF_LANG = re.compile(rb"/Lang \(([A-Za-z_-]+)\)")  # the tagged PDF's catalog (Chromium prints the HTML's lang)
CJK = re.compile(r"[\u4e00-\u9fff]")


def report_language(path: str) -> str | None:
    """The language a report from `explain` is written in (its HTML `lang`, its JSON `lang`, its
    PDF's `/Lang`, a Markdown report's title in Chinese or not)."""
    try:
        head = Path(path).read_bytes()
    except OSError:
        return None
    m = HTML_LANG.search(head[:4096].decode("utf-8", "replace"))
    if m:
        return m.group(1)
    if head.startswith(b"%PDF"):
        found = PDF_LANG.search(head)
        return found.group(1).decode() if found else None
    if head.startswith(b"# "):
        return "zh_CN" if CJK.search(head.split(b"\n", 1)[0].decode("utf-8", "replace")) else "en"
    if head.startswith(b"PK"):  # a workbook (a statement's XLSX): its sheets are named in its language
        import zipfile

        try:
            with zipfile.ZipFile(path) as z:
                sheets = z.read("xl/workbook.xml").decode("utf-8", "replace")
        except (zipfile.BadZipFile, KeyError, OSError):
            return None
        return "zh_CN" if CJK.search(sheets) else "en"
    try:
        doc = msgspec.json.decode(head)
    except msgspec.DecodeError:
        return None
    lang = doc.get("lang") if isinstance(doc, dict) else None
    return lang if isinstance(lang, str) else None


def speak_as_report(path: str) -> Texts:
    """The language of the report `path` (--lang first), else the reader's: what `proof verify` says of it."""
    try:
        return speak(document=report_language(path))
    except ValueError:  # a report in a language we do not write
        return speak()


def read_evidence(path: str) -> Any:
    """The evidence of a report file: explain's JSON or HTML, or the evidence object alone."""
    from domain.proofs import Evidence

    try:
        raw = Path(path).read_bytes()
    except OSError as e:
        _ = speak_as_report(path)
        raise UserError(_("{path}: cannot be read ({reason}); name the report file `explain "
                          "--out` wrote", path=path, reason=e.strerror),
                        code=E_REPORT) from None
    text = raw.decode("utf-8", "replace")
    m = EVIDENCE_TAG.search(text)
    if not m and not raw.lstrip().startswith(b"{"):  # neither explain's HTML nor JSON: no proof to read
        _ = speak_as_report(path)
        raise UserError(_("{path}: this file carries no proof: a Markdown or PDF report has none, nor "
                          "does a file that is not a report; verify the HTML or JSON report (`ticketledger "
                          "explain TICKET --format html|json --out FILE`) or its evidence file",
                          path=path), code=E_REPORT)
    try:
        if m:
            return msgspec.json.decode(m.group(1), type=Evidence)
        doc = msgspec.json.decode(raw)
    except msgspec.DecodeError as e:
        _ = speak_as_report(path)
        raise UserError(_("{path}: the report's proof cannot be read ({error}); it was changed or cut",
                          path=path, error=said(e)), code=E_REPORT) from None
    if isinstance(doc, dict) and "proofs" in doc:
        proofs = doc["proofs"] or {}
        if "evidence" not in proofs:
            _ = speak_as_report(path)
            missing = proofs.get("missing") or _("made before proofs")
            raise UserError(_("{path}: the report carries no proof ({missing}); ask for one made "
                              "after `ticketledger checkpoint`", path=path, missing=missing), code=E_REPORT)
        doc = proofs["evidence"]
    try:
        return msgspec.convert(doc, Evidence)
    except msgspec.ValidationError as e:
        _ = speak_as_report(path)
        raise UserError(_("{path}: not a report with a proof ({error})",
                          path=path, error=said(e)), code=E_REPORT) from None


ANNEX = re.compile(r'<section id="annex">(.*?)</section>', re.S)
ANNEX_ROW = re.compile(r'<tr><td class="num">(\d+)</td>')
TICKET_META = re.compile(r'<meta name="ticketledger-ticket" content="([^"]*)">')
TITLE = re.compile(r"<title>([^<]*)</title>")
WHAT_IF_META = re.compile(r'<meta name="ticketledger-what-if" content="([^"]*)">')


def report_what_if(path: str) -> tuple[str, str] | None:
    """The what-if terms file a report's verdicts were computed under (its name, its SHA-256), as
    the report says (HTML meta, JSON `what_if`); None for a report under the contract as recorded."""
    import html

    text = Path(path).read_bytes().decode("utf-8", "replace")
    m = WHAT_IF_META.search(text)
    if m:
        file, _sep, sha = html.unescape(m.group(1)).rpartition(" ")
        return file, sha
    try:
        doc = msgspec.json.decode(text)
    except msgspec.DecodeError:
        return None
    wi = doc.get("what_if") if isinstance(doc, dict) else None
    return (str(wi.get("file") or ""), str(wi.get("sha256") or "")) if isinstance(wi, dict) else None


def report_page(path: str) -> tuple[list[int] | None, str | None]:
    """What a report shows, for `proof verify` to hold its proof against: (the log positions it
    lists in its annex, the ticket it names); None where the file is the evidence alone."""
    import html

    text = Path(path).read_bytes().decode("utf-8", "replace")
    if EVIDENCE_TAG.search(text):
        annex = ANNEX.search(text)
        shown = [int(p) for p in ANNEX_ROW.findall(annex.group(1))] if annex else []
        m = TICKET_META.search(text)
        if m:
            return shown, html.unescape(m.group(1))
        title = TITLE.search(text)  # a report from before the meta: its title ends with the ticket
        return shown, html.unescape(title.group(1)).split()[-1] if title and title.group(1).split() else None
    try:
        doc = msgspec.json.decode(text)
    except msgspec.DecodeError:
        return None, None
    if isinstance(doc, dict) and "proofs" in doc:
        log = doc.get("log") if isinstance(doc.get("log"), dict) else {}
        cited = log.get("positions_cited")
        shown = [p for p in cited if isinstance(p, int)] if isinstance(cited, list) else []
        return shown, doc["ticket"] if isinstance(doc.get("ticket"), str) else None
    return None, None


def read_saved_checkpoint(path: str) -> str:
    """A checkpoint the reader saved (`--checkpoint SAVED` of `verify` and `proof verify`), as its
    signed note. A file that is no signed checkpoint at all is bad input, refused before any
    check; its signature is checked later, against the log's keys, as a finding."""
    from domain import signed_note as sn

    try:
        raw = Path(path).read_bytes()
    except OSError as e:
        _ = speak()
        raise UserError(_("--checkpoint {checkpoint}: cannot be read ({reason})",
                          checkpoint=path, reason=e.strerror), code=E_REPORT) from None
    try:
        sn.parse_checkpoint(sn.parse(raw).text)
    except sn.NoteError:
        _ = speak()
        raise UserError(_("--checkpoint {checkpoint}: not a signed checkpoint note; name a checkpoint "
                          "saved exactly as received (`ticketledger checkpoint --out FILE` writes one): "
                          "the log's origin, the tree size and the root hash, each on its line, a "
                          "blank line, then signature lines that start with '— '", checkpoint=path),
                        code=E_REPORT) from None
    return raw.decode()


def log_verifier(text: str) -> Any:
    """The log's verifier key given on the command line (`--log-key`): the key, or a file holding it."""
    from domain import signed_note as sn

    p = Path(text)
    if p.is_file():  # a key given as the file that holds it
        text = p.read_text().strip()
    try:
        return sn.Verifier.parse(text)
    except sn.NoteError as e:
        _ = speak()
        raise UserError(_("--log-key {text}: {error}", text=text[:60], error=said(e)), code="TL-E166") from None


def cmd_proof_verify(args: argparse.Namespace) -> int:
    from domain.proofs import E_UNTRUSTED, ConsistencyProof, check_evidence

    ev = read_evidence(args.report)
    keys = [log_verifier(k) for k in args.log_key]
    saved = read_saved_checkpoint(args.checkpoint) if args.checkpoint else None
    extra = []
    for f in args.consistency:
        try:
            extra.append(msgspec.json.decode(Path(f).read_bytes(), type=ConsistencyProof))
        except (OSError, msgspec.DecodeError, msgspec.ValidationError) as e:
            _ = speak()
            raise UserError(_("--consistency {file}: not a proof from `prove consistency` ({error})",
                              file=f, error=said(e)), code=E_REPORT) from None
    if extra:
        ev = msgspec.structs.replace(ev, consistency=[*ev.consistency, *extra])
    from domain import cosignature as cs

    witnesses = []
    for k in args.witness_key:
        text = Path(k).read_text().strip() if Path(k).is_file() else k
        try:
            witnesses.append(cs.WitnessVerifier.parse(text))
        except cs.CosignatureError as e:
            _ = speak()
            raise UserError(_("--witness-key {text}: {error}", text=text[:60], error=said(e)), code="TL-E166") from None
    shown, subject = report_page(args.report)
    findings = check_evidence(ev, keys, saved, shown=shown, subject=subject,
                              witnesses=[(w.name, w.key_hash) for w in witnesses])
    if witnesses:
        findings = [*findings, *cs.witness_findings(ev.checkpoint, witnesses)]
    failed = [f for f in findings if f.status == "failed"]
    what_if = report_what_if(args.report)
    if args.json:
        # "ok" is about the cited events; what it does not cover is said, as the text says it
        cited = sorted({e.leaf.position for e in ev.events})
        verdict: dict[str, Any] = {"ok": not failed, "covers": {"cited_events": cited, "verdicts_and_amounts": False}}
        if what_if:
            verdict["hypothetical"] = {"terms_file": what_if[0], "sha256": what_if[1]}
        if failed:  # why not, in one line: the first failure (TL-E170 alone: not checked against the log's key)
            verdict["reason"] = f"{failed[0].code}: {failed[0].what}" + (
                f" (and {len(failed) - 1} more failed check(s))" if len(failed) > 1 else "")
        sys.stdout.write(msgspec.json.encode({**verdict, "findings": findings}, enc_hook=str).decode() + "\n")
    else:
        from rich.cells import cell_len

        from domain.errors import Phrase

        _ = speak_as_report(args.report)  # the report's language unless --lang
        if what_if:  # first, before anything that could read as the ledger's finding
            print(_("{report}: HYPOTHETICAL (what-if): its verdicts and amounts were computed under the terms of "
                    "file {file} (sha256 {sha256}), not the contract as recorded; they are not the ledger's finding. "
                    "This checks only that its events are the ledger's", report=args.report, file=what_if[0],
                    sha256=what_if[1]))
        mark = {"ok": _("ok"), "note": _("note"), "withheld": _("note"), "failed": _("FAIL")}
        width = max(cell_len(m) for m in mark.values())
        for f in findings:
            what = Phrase(f.message, **f.params).said(_) if f.message else f.what
            print(f"{mark[f.status]}{' ' * (width - cell_len(mark[f.status]))} "
                  f"{f.code + ': ' if f.code and f.status == 'failed' else ''}{what}")
        if [f.code for f in failed] == [E_UNTRUSTED]:  # all else held, with the report's own key
            print(_("{report}: NOT VERIFIED: the proof is consistent in itself, but it was not checked against "
                    "the log's key, and anyone could have made it; run again with --log-key KEY, the log's "
                    "verifier key from your contract annex", report=args.report))
        else:
            print(_("{report}: {failed} check(s) FAILED", report=args.report, failed=len(failed)) if failed else
                  _proof_holds(_, args.report, len(ev.events), findings))
            if what_if and not failed:
                print(_("{report}: the events are proven; the verdict is hypothetical (what-if terms from file "
                        "{file}), not the ledger's finding", report=args.report, file=what_if[0]))
    return EXIT_FOUND if failed else 0


def _proof_holds(_: Texts, report: str, n: int, findings: list[Finding]) -> str:
    """What a proof that holds shows, and what it does not: a dispute handler reads "holds" as
    "the report is authentic", but the verdicts and amounts are computed from the cited events,
    not carried by the proof (an edited ¥ figure still "holds"); cosignatures not checked are said."""
    from domain.proofs import UNCHECKED_SIGNATURES

    unchecked = next((f.params["n"] for f in findings if f.message == UNCHECKED_SIGNATURES), 0)
    if unchecked:
        return _("{report}: proof holds for the {n} events the report cites: each is in the signed log at its "
                 "position, its stored bytes unchanged. Not checked: the {unchecked} other signature(s) on its "
                 "checkpoint (witnesses' cosignatures; add --witness-key KEY for each witness you trust). Not proved: "
                 "the report's verdicts and amounts, which the ledger computes from these events; replaying them "
                 "checks those (`ticketledger explain TICKET --at TIME` on the ledger), not this proof",
                 report=report, n=n, unchecked=unchecked)
    return _("{report}: proof holds for the {n} events the report cites: each is in the signed log at its "
             "position, its stored bytes unchanged. Not proved: the report's verdicts and amounts, which the "
             "ledger computes from these events; replaying them checks those (`ticketledger explain TICKET "
             "--at TIME` on the ledger), not this proof", report=report, n=n)


def init_log(args: argparse.Namespace, ledger: Any) -> dict[str, Any]:
    """`init`'s part: the log key (made when missing, never printed), the tree built, and the
    verifier key to print (the customer's copy goes in the contract annex): what `init_log_said`
    words, and `init --json` prints."""
    from .. import log_key
    from ..ledger_tree import LedgerTree
    from ..store import on_postgres

    current = current_keys(ledger)
    if current and not log_key.given(_data_dir(args)):
        raise UserError(_key_said(N_("the log of this ledger ({place}) is signed by key {key}, and this data folder "
                                     "has no key: a new one would start a second log of another origin; give that "
                                     "key's private file with {file_env} (set up this host's data folder with "
                                     "init, with the log key of this ledger)"), ledger, current), code=E_NO_KEY)
    try:
        signer, made = log_key.ensure(_data_dir(args))
    except log_key.KeyError_ as e:
        raise UserError(said(e), code=E_NO_KEY) from None
    if current and signer.verifier.key_hash.hex() not in {k.key_hash for k in current}:
        raise UserError(_key_said(N_("the log key in {where} (verifier key {given}) is not the key the log of this "
                                     "ledger ({place}) is signed by, {key}; give that key's private file with "
                                     "{file_env}"), ledger, current, where=log_key.where(_data_dir(args)),
                                  given=signer.verifier.vkey), code=E_NO_KEY)
    LedgerTree(ledger).add_key(signer.verifier)
    build_tree(ledger)
    return {"log_key_file": str(log_key.where(_data_dir(args))), "log_key_made": made,
            "verifier_key": signer.verifier.vkey, "host_of_schema": bool(current) and on_postgres(ledger.recorder)}


def current_keys(ledger: Any) -> list[Any]:
    """The keys the ledger's log signs with now (recorded in the store: ledger_log_keys), not retired."""
    from ..ledger_tree import LedgerTree

    return [k for k in LedgerTree(ledger).log_keys() if k.retired_at is None]


def _place(ledger: Any) -> str:
    """Where the ledger's events are, for people (the PostgreSQL schema, or the SQLite file)."""
    from ..store import on_postgres

    rec = ledger.recorder
    if on_postgres(rec):
        return f"schema {rec.datastore.schema}"
    return str(ledger.env.get("SQLITE_DBNAME", ""))


def _key_said(message: str, ledger: Any, current: list[Any], **params: object) -> str:
    from .. import log_key

    _ = speak()
    return _(message, place=_place(ledger), key=", ".join(k.vkey for k in current), file_env=log_key.KEY_FILE_ENV,
             **params)


def init_log_said(log: dict[str, Any]) -> str:
    _ = speak()
    if log.get("host_of_schema"):
        return _("log key in {where}: the key this schema's log is already signed by, so this data folder is set up "
                 "as a host of that ledger (with its own evidence, NATS store and views; on another machine, a second "
                 "host); verifier key: {key}",
                 where=log["log_key_file"], key=log["verifier_key"])
    if log["log_key_made"]:
        return _("log key made now in {where} (mode 0600; keep it secret, back it up); verifier key for the "
                 "contract annex: {key}", where=log["log_key_file"], key=log["verifier_key"])
    return _("log key in {where}; verifier key for the contract annex: {key}", where=log["log_key_file"],
             key=log["verifier_key"])
