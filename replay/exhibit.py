"""The dispute report as an exhibit (issue 17): HTML to read and print on A4, and Markdown.

Written from the plain data of `replay.explain.build_report`, in the reader's language
(replay/i18n.py): the first page can be read alone — the parties, the asset, the contract and
its version, each clock's promise with its clause quoted, the verdict and by how much, the money
each side owes in yuan with the clause that decides it, the losses claim and the proof status —;
then the explanation of every verdict (replay/explanations.py), the timeline (picture and
table), corrections and late entries, evidence files, and the log and proof annex.

Free text from the log (clauses, reasons, names, notes) goes through `printable` and then
`html.escape`. Deterministic: no clock is read, no file is touched.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from .explanations import (
    clause_text,
    clock_sentences,
    correction_sentences,
    liability_sentences,
    nothing_to_pay,
    payer_undetermined,
    promise_clause,
    replacement_short,
    target_adjusted,
    value_in_question,
    verdict_short,
)
from .i18n import Texts, recorded_word, texts, word
from .printable import printable
from .timeline_svg import timeline_svg


def _(message: str) -> str:
    """Marks a message for the catalog; translated where it is used."""
    return message


# Words of the frame used inside f-strings (the extractor reads no f-string): marked here
M = {m: m for m in (
    _("Promises and verdicts"),
    _("The views hold no clock for this ticket."),
    _("Clock"),
    _("Promise and clause"),
    _("Deadline"),
    _("Who pays"),
    _("The views hold no liability row for this ticket."),
    _("Proof"),
    _("Why: every verdict explained"),
    _("Coverage and payment"),
    _("Timeline"),
    _("Times on the axis are {zone}."),
    _("Corrections and late entries"),
    _("None."),
    _("Correction at log position {position}"),
    _("Late entries"),
    _("Evidence files"),
    _("None attached."),
    _("Position"),
    _("File"),
    _("Attached by"),
    _("Annex: contract versions and the log"),
    _("Recorded (UTC)"),
    _("Chain link"),
    _("Dispute report: ticket {ticket}"),
    _("Supplier"),
    _("Customer"),
    _("Contract"),
    _("Asset"),
    _("Stopped"),
    _("Verdict"),
    _("Event"),
    _("Occurred"),
    _("Recorded"),
    _("Details"),
    _("How to check this report"),
    _("Signed checkpoint"),
    _("Replacement obligation"),
)}


def free(value: Any) -> str:
    """Free text from the log, safe to show: control characters made visible (printable)."""
    return printable(str(value if value is not None else ""))


def e(value: Any) -> str:
    """Free text for HTML: printable, then escaped."""
    return html.escape(free(value), quote=True)


# --- the explanations of one report -------------------------------------------------------------------


def explanations(r: Mapping[str, Any], lang: str) -> dict[str, Any]:
    """Every sentence the report shows: per clock, for liability, per correction."""
    tz = r["timezone"]
    clocks = {c["clock"]: clock_sentences(c, r.get("clock_inputs", []), lang, tz, late=r.get("late_rows", []))
              for c in r["clocks"]}
    breached = [c for c in r["clocks"] if c.get("state") == "breached"]
    consumable = any(p.get("consumable") for e in r["timeline"] if e["type"] == "RepairAttempted"
                     for p in e["detail"].get("parts") or [])
    liability = liability_sentences(r.get("liability"), lang, tz, breached=breached,
                                    losses_clause=r.get("parties", {}).get("losses_clause", ""),
                                    losses_clocks=r.get("parties", {}).get("losses_clocks", []),
                                    consumable_lines=consumable, replacement=r.get("replacement"))
    corrections = {}
    for effect in r.get("correction_effects", []):
        if effect.get("clocks_without") is not None:
            corrections[str(effect["position"])] = correction_sentences(
                {"position": effect["position"]}, effect["clocks_without"], r["clocks"], lang)
    return {"clocks": clocks, "liability": liability, "corrections": corrections}


# --- readable details of a fact ---------------------------------------------------------------------


def detail_lines(kind: str, detail: Mapping[str, Any], lang: str, tz: str) -> list[str]:
    """A fact's own fields as lines a person reads (parts one per line, money in yuan, codes as
    words), never as JSON."""
    t = texts(lang)
    lines: list[str] = []
    for key, value in detail.items():
        if key in ("corrects_version", "changes"):
            continue
        label = word(lang, "field", key)
        if key == "parts":
            for p in value or []:
                line = t(_("{part} × {quantity}: quoted {quoted} each, cost {cost} each"), part=free(p.get("part")),
                         quantity=p.get("quantity"), quoted=t.money(p.get("quoted_price_fen")),
                         cost=t.money(p.get("cost_price_fen")))
                lines.append(line + (t(_(" (consumable)")) if p.get("consumable") else ""))
            continue
        if key.endswith("_fen"):
            text = t.money(value)
        elif key.endswith("_at"):
            text = t.time(value, tz)
        elif isinstance(value, bool):
            text = t(_("yes")) if value else t(_("no"))
        elif key == "severity":
            text = word(lang, "severity", value)
        elif key == "reason" and kind in ("WaitStarted", "WaitEnded"):
            text = word(lang, "wait", value)
        elif key == "cause":
            text = word(lang, "cause", value)
        elif key in ("fault_category", "asset_type"):
            text = free(recorded_word(lang, key, value))
        elif key == "clock":
            text = word(lang, "clock", value)
        elif key == "add_minutes":
            text = t.duration(value)
        elif key == "size":
            text = t(_("{n} bytes"), n=t.number(value))
        elif isinstance(value, dict | list):
            text = "; ".join(f"{free(k)}: {free(v)}" for k, v in value.items()) if isinstance(value, dict) \
                else ", ".join(free(v) for v in value)
        else:
            text = free(value)
        lines.append(f"{label}: {text}")
    return lines


def changed_value(key: str, value: Any, lang: str, tz: str) -> str:
    """An original or corrected field value as people read it."""
    t = texts(lang)
    if key.endswith("_at") and isinstance(value, str) and value:
        return t.time(value, tz)
    if key.endswith("_fen"):
        return t.money(value)
    lines = detail_lines("", {key: value}, lang, tz)
    return lines[0].split(": ", 1)[-1] if lines else ""


# --- the first page's pieces ---------------------------------------------------------------------------


def nb(text: str) -> str:
    """A number kept with its unit on one line (`40 min`, `11 h`)."""
    return re.sub(r"(\d) (h|min|小时|分钟)", "\\1\u00a0\\2", text)


def party(name: str | None, ident: str | None) -> str:
    if name and ident and name != ident:
        return f"{free(name)} ({free(ident)})"
    return free(name or ident or "")


def what_if_banner(what_if: Mapping[str, Any] | None, t: Texts, *, short: bool = False) -> str:
    """What every page of a report or statement from what-if views says (replay --terms): its
    verdicts are a hypothesis under a file's terms, not the ledger's finding under the contract.
    `short`: for the page margin (the digest cut to 12 digits). "" for views under recorded terms."""
    if not what_if:
        return ""
    sha = what_if.get("sha256") or ""
    return t(_("Hypothetical (what-if): terms from file {file} (sha256 {sha256}), not the contract as recorded"),
             file=free(what_if.get("file")) or "?", sha256=(sha[:12] + "…") if short and sha else sha or "?")


def what_if_fields(what_if: Mapping[str, Any] | None, t: Texts) -> dict[str, Any]:
    """What a report's or statement's JSON says of its terms: `what_if` (the terms file and its
    SHA-256; null under the contract as recorded) and, for a what-if, `what_if_said` (the banner)."""
    return {"what_if": what_if, **({"what_if_said": what_if_banner(what_if, t)} if what_if else {})}


def report_title(r: Mapping[str, Any], t: Texts) -> str:
    """The report's title, which every printed page carries in its margin: a what-if says so there."""
    if r.get("what_if"):
        return t(_("Dispute report (hypothetical, what-if): ticket {ticket}"), ticket=free(r["ticket"]))
    return t(_("Dispute report: ticket {ticket}"), ticket=free(r["ticket"]))


def contract_said(r: Mapping[str, Any], t: Texts) -> str:
    """The contract and the terms the verdicts use: the version in force, or a what-if file in its place."""
    p, s = r.get("parties", {}), r["summary"]
    contract, name = free(p.get("contract") or s.get("contract")), free(p.get("contract_name"))
    if r.get("what_if"):
        return t(_("{contract} “{name}”: terms from the what-if file {file}, not version {version} as recorded"),
                 contract=contract, name=name, file=free(r["what_if"].get("file")),
                 version=p.get("version_in_force") or "")
    return t(_("{contract} “{name}”, version {version} (in force at the report time)"),
             contract=contract, name=name, version=p.get("version_in_force") or "")


def proof_status(r: Mapping[str, Any], lang: str, medium: str = "html") -> list[str]:
    """What proves the report: the hash chain links cited, evidence files, inclusion proofs
    (`medium` pdf or md: a printed copy, whose proof is in the HTML report)."""
    t = texts(lang)
    log = r["log"]
    lines = [t(_("Hash chain: {n} log positions cited, the last read is {position}, its link {link}…; "
                 "`ticketledger verify` recomputes every link."),
               n=t.number(len(log["positions_cited"])), position=log["last_position_read"] or "",
               link=(log["head_link_cited"] or "")[:16])]
    files = r.get("evidence", [])
    if files:
        ok = sum(1 for f in files if f.get("status") == "ok")
        lines.append(t(_("Evidence files: {ok} of {n} match their recorded SHA-256."), ok=t.number(ok),
                       n=t.number(len(files))))
    proofs = r.get("proofs")
    if proofs and proofs.get("evidence"):
        lines.append(t(_("Transparency log: the {n} cited events are proved in the log's signed checkpoint of "
                         "tree size {size} ({origin}); `ticketledger proof verify` checks this offline.")
                       if medium == "html" else
                       _("Transparency log: the {n} cited events are proved in the log's signed checkpoint of "
                         "tree size {size} ({origin}); the proof is in the HTML report, which `ticketledger proof "
                         "verify` checks offline (this copy carries none)."),
                       n=t.number(len(proofs["evidence"]["events"])), size=proofs["checkpoint_size"],
                       origin=free(proofs["origin"])))
        for c in proofs.get("cosignatures") or []:
            lines.append(t(_("Cosigned by witness {witness} at {time} (UTC); key {key}."),
                           witness=free(c["witness"]), time=c["time"], key=free(c["key"])))
    elif proofs and proofs.get("summary"):
        lines.append(free(proofs["summary"]))
    elif proofs and proofs.get("missing"):
        lines.append(t(_("Transparency log: this report carries no proof yet; sign a checkpoint "
                         "(`ticketledger checkpoint`) and render it again.")))
    else:
        lines.append(t(_("Inclusion proofs: not part of this report.")))
    return lines


def replay_command(r: Mapping[str, Any]) -> str:
    """The command that recomputes this report's verdicts on the ledger: its ticket, its evaluation
    time and its cut, filled in."""
    cmd = f"ticketledger explain {r['ticket']} --at {r.get('evaluated_at') or 'TIME'}"
    if r.get("as_of_recorded"):
        cmd += f" --as-of-recorded {r['as_of_recorded']}"
    if r.get("as_of_source_recorded"):
        cmd += f" --as-of-source-recorded {r['as_of_source_recorded']}"
    return cmd


def how_to_check(r: Mapping[str, Any], t: Texts, medium: str) -> list[str]:
    """The paragraphs that let a person check the report, with ticketledger or without it.
    `medium`: html (the file carries the proof), pdf or md (printed copies that carry none: the
    proof is in the HTML report of the same ticket, which `proof verify` checks)."""
    explain = replay_command(r)
    html_cmd = f"{explain} --format html"
    if medium == "html":
        first = t(_("This file carries its own proof, checkable without our systems: run `ticketledger proof verify "
                    "REPORT.html --log-key KEY` with the log's verifier key from your contract annex (add `--checkpoint "
                    "SAVED` with a checkpoint you saved earlier, `--witness-key KEY` for a witness's cosignature). It "
                    "recomputes each cited event's leaf from the stored bytes embedded in this file, checks its "
                    "inclusion proof against the signed checkpoint below and the checkpoint's signature, and names "
                    "any event that was altered. An event never recorded is not caught."))
    else:
        first = t(_("This printed copy carries no proof itself: the proof is embedded in the HTML report of the same "
                    "ticket (`{command}`, or the HTML file sent with this copy). Run `ticketledger proof verify "
                    "REPORT.html --log-key KEY` on that file, with the log's verifier key from your contract annex; "
                    "`proof verify` refuses this copy. The signed checkpoint and the leaves below let you compare the "
                    "two."), command=html_cmd)
    where = (t(_("Without ticketledger: the proof is the JSON (format ticketledger-proof/v1) in this file's element "
                 "<script type=\"application/json\" id=\"ticketledger-evidence\">.")) if medium == "html" else
             t(_("Without ticketledger: the proof is the JSON (format ticketledger-proof/v1) in the HTML report's "
                 "element <script type=\"application/json\" id=\"ticketledger-evidence\">.")))
    leaf = t(_("For each cited event it holds the stored bytes (stored_b64, base64) and the leaf's inputs (leaf). "
               "The leaf is the byte 0x01, then, big-endian: the leaf index (8 bytes, the count of earlier "
               "events), the log position (8), the recording time in microseconds since "
               "1970-01-01T00:00:00Z (8, signed), the originator id (16), the originator version (8), the topic's "
               "length (2) and the topic in UTF-8, then the SHA-256 of the stored bytes (32). Its hash is "
               "SHA-256(0x00 || leaf); the inclusion proof (base64 hashes) leads from it to the root of the signed "
               "checkpoint as RFC 9162 §2.1.3 says. The checkpoint is a C2SP signed note (tlog-checkpoint, "
               "Ed25519) signed by the log key of your contract annex; a witness's cosignature is C2SP "
               "tlog-cosignature/v1."))
    covers = t(_("The proof covers the cited events, not the verdicts and amounts of this report: those are computed "
                 "from the events by the contract's rules, and a replay of the same events under the same terms "
                 "(`{command}` on the ledger) recomputes them."), command=explain)
    return [first, f"{where} {leaf}", covers]


_INSTANT = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d(?::\d\d(?:\.\d+)?)?(?:Z|[+-]\d\d:\d\d)")


def _whole_instants(escaped: str) -> str:
    """Escaped text with each ISO instant kept on one line (a printed line never breaks inside it)."""
    return _INSTANT.sub(lambda m: f'<span class="nowrap">{m.group(0)}</span>', escaped)


def note_lines_html(note: str) -> str:
    """A signed note as its lines, for a <pre> that wraps long base64 anywhere (a person copies it
    exactly: each line as printed, control characters made visible)."""
    return "\n".join(e(line) for line in note.rstrip("\n").split("\n"))


def _tlog_html(r: Mapping[str, Any], t: Texts, medium: str = "html") -> str:
    """The report's own proof: how to check it, the signed checkpoint, each cited event's leaf,
    and the evidence itself for `proof verify` (JSON in a script element; no script runs). A
    PDF is printed from it: there the text says where the proof is, and the element is left out."""
    proofs = r.get("proofs") or {}
    ev = proofs.get("evidence")
    if not ev:
        return ""
    import msgspec

    P = [f'<section id="proof"><h2>{html.escape(t(M["How to check this report"]))}</h2>']
    P += ["<p>" + _whole_instants(html.escape(x)) + "</p>" for x in how_to_check(r, t, medium)]
    P.append(f'<p>{html.escape(t(M["Signed checkpoint"]))}</p><pre class="note">{note_lines_html(ev["checkpoint"])}</pre>')
    for c in proofs.get("cosignatures") or []:  # the witnesses' times: evidence of when, not from the operator
        P.append("<p>" + html.escape(t(_("Cosigned by witness {witness} at {time} (UTC); key {key}."),
                                       witness=free(c["witness"]), time=c["time"], key=free(c["key"]))) + "</p>")
    P.append('<table class="log">' + _cols(["15mm", "15mm", "auto"]) + "<thead><tr>" + "".join(
        f"<th>{html.escape(h)}</th>" for h in (t(M["Position"]), t(_("Leaf")), t(_("Stored bytes (SHA-256)"))))
             + "</tr></thead><tbody>")
    for c in ev["events"]:
        leaf = c["leaf"]
        P.append(f'<tr><td class="num">{leaf["position"]}</td><td class="num">{leaf["index"]}</td>'
                 f'<td class="hash">{e(leaf["state_sha256"])}</td></tr>')
    P.append("</tbody></table>")
    if medium == "html":
        data = msgspec.json.encode(ev).decode().replace("<", "\\u003c")  # no markup can end the element
        P.append(f'<script type="application/json" id="ticketledger-evidence">{data}</script>')
    P.append("</section>")
    return "\n".join(P)


def page_number_css(t: Texts) -> str:
    """`Page {n} of {m}` of the catalog as CSS generated content (page margin boxes)."""
    template = t(_("Page {n} of {m}"))
    out = []
    for i, part in enumerate(template.replace("{m}", "\0m").replace("{n}", "\0n").split("\0")):
        if i:
            out.append("counter(page)" if part[0] == "n" else "counter(pages)")
            part = part[1:]
        if part:
            out.append('"' + part.replace("\\", "\\\\").replace('"', '\\"') + '"')
    return " ".join(out)


def css_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ") + '"'


CSS = """
@page{size:A4;margin:14mm 13mm 16mm 13mm;
 @bottom-right{content:PAGES;font:7.5pt "Noto Sans CJK SC","Noto Sans",sans-serif;color:#333}
 @bottom-left{content:TITLE;font:7.5pt "Noto Sans CJK SC","Noto Sans",sans-serif;color:#333}}
*{box-sizing:border-box}
html{font-family:"Noto Sans CJK SC","Noto Sans","Source Han Sans SC","PingFang SC","Microsoft YaHei",sans-serif;
 font-size:9pt;line-height:1.4;color:#111;background:#fff}
body{margin:0 auto;max-width:184mm;padding:0}
h1{font-size:15pt;margin:0 0 2mm}
h2{font-size:11pt;margin:5mm 0 2mm;padding-bottom:1mm;border-bottom:0.6pt solid #555;break-after:avoid}
h2+p.meta,h3+p.meta{break-after:avoid}
h3{font-size:9.5pt;margin:3mm 0 1mm;break-after:avoid}
p{margin:1mm 0}
.meta{color:#333;font-size:8pt}
table{border-collapse:collapse;width:100%;margin:1.5mm 0;table-layout:fixed}
thead{display:table-header-group}
tr{break-inside:avoid}
th,td{border:0.5pt solid #888;padding:1mm 1.4mm;vertical-align:top;text-align:left;overflow-wrap:anywhere;
 word-break:normal}
th{background:#e8e8e8;font-weight:600}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.facts th{width:24mm}
.verdict{font-weight:600}
tr.breached td.verdict{background:#f3d6d6}
tr.met td.verdict{background:#e2efe2}
tr.at_risk td.verdict,tr.running td.verdict{background:#f4efd8}
.quote{font-size:8pt;color:#222}
.money td.num{font-size:10pt;font-weight:600}
/* a figure said in words (a statement's undetermined payer: a count and a value) wraps in its cell
   rather than run over its neighbour's figure */
td.num.words{white-space:normal}
/* a time in a table of money (a statement's ticket reported at): not a money figure */
td.when{font-variant-numeric:tabular-nums;white-space:nowrap}
ul{margin:1mm 0 1mm 5mm;padding:0}
li{margin:0.6mm 0}
.clock{break-inside:avoid}
.clock ol{margin:1mm 0 2mm 5mm;padding:0}
.old{text-decoration:line-through;color:#555}
.late{font-weight:600}
/* a ticket or asset id on one line where it fits (it still breaks anywhere rather than overflow) */
td.id{font-size:7.5pt;font-variant-numeric:tabular-nums}
code,.hash{font-family:"Noto Sans Mono","DejaVu Sans Mono",monospace;font-size:7pt;overflow-wrap:anywhere}
/* a UTC timestamp is read whole: never broken inside */
.hash.utc{white-space:nowrap;overflow-wrap:normal;font-size:6.5pt}
.nowrap{white-space:nowrap}
/* a signed note, line by line as signed; long base64 breaks anywhere rather than run off the page */
pre.note{font-family:"Noto Sans Mono","DejaVu Sans Mono",monospace;font-size:7pt;white-space:pre-wrap;
 overflow-wrap:anywhere;word-break:break-all;margin:1mm 0;break-inside:avoid}
.lines{margin:0;padding:0;list-style:none}
.lines li{margin:0}
.first{break-after:page}
figure{margin:2mm 0;break-inside:avoid}
figure svg{width:100%;height:auto;display:block}
figcaption{font-size:7.5pt;color:#333}
@media screen{body{padding:8mm}}
"""


def page_css(t: Texts, title: str, banner: str = "") -> str:
    """The A4 stylesheet of reports and statements, `title` and page numbers in the margins, and
    `banner` (a what-if's) at the head of every page."""
    css = CSS.replace("PAGES", page_number_css(t)).replace("TITLE", css_string(title))
    if banner:
        css = css.replace("@page{size:A4;", "@page{size:A4;@top-center{content:" + css_string(banner)
                          + ';font:600 8pt "Noto Sans CJK SC","Noto Sans",sans-serif;color:#900}', 1)
    return css + WHAT_IF_CSS if banner else css


WHAT_IF_CSS = ".whatif{border:1.2pt solid #900;color:#900;font-weight:600;padding:1.5mm 2mm;margin:1mm 0 2mm}\n"


def _cols(widths: Sequence[str]) -> str:
    return "<colgroup>" + "".join(f'<col style="width:{w}">' for w in widths) + "</colgroup>"


def _lines(items: Sequence[str]) -> str:
    if not items:
        return ""
    return '<ul class="lines">' + "".join(f"<li>{html.escape(x)}</li>" for x in items) + "</ul>"


def _ledger_state(r: Mapping[str, Any], t: Texts) -> str:
    """The ledger's state the report reads: the views' checkpoint (the same for every report of
    the same views), and the last event the report cites, which is not that state."""
    log = r["log"]
    if log.get("views_position") is None:
        return t(_("as recorded up to log position {position}"), position=log["last_position_read"] or "")
    return t(_("up to log position {position} (the views' checkpoint; the last event this report cites is at "
               "position {cited})"), position=log["views_position"], cited=log["last_position_read"] or "")


def _evaluation_time_said(r: Mapping[str, Any], t: Texts) -> str:
    """Why the evaluation time may lie before the recording times the annex lists."""
    return t(_("The evaluation time {evaluated} is chosen by whoever computes the views (`--at` of `replay`, "
               "`views rebuild` and `explain`): the verdicts are judged as of that moment, on the facts that occurred "
               "by then. It is not the time the ledger recorded them: the recording times below may be later, for "
               "example when the facts were imported from a desk afterwards."),
             evaluated=t.time(r.get("evaluated_at"), r["timezone"], zone=True))


def _severity_said(r: Mapping[str, Any], lang: str) -> str:
    """The severity at the report, and the final one where it changed (`严重 → 紧急`)."""
    s = r["summary"]
    sev_now = next((c.get("severity") for c in r["clocks"] if c.get("severity")), None)
    severity = word(lang, "severity", s.get("severity_at_report"))
    if sev_now and sev_now != s.get("severity_at_report"):
        severity += " → " + word(lang, "severity", sev_now)
    return severity


def _money_rows(r: Mapping[str, Any], lang: str) -> list[tuple[str, str, str]]:
    """The first page's who-pays box: (who, yuan, why) rows; [] without a liability row."""
    t = texts(lang)
    li, p = r.get("liability"), r.get("parties", {})
    if not li:
        return []
    coverage = word(lang, "coverage", li.get("coverage"))
    cause = word(lang, "cause", li.get("cause") or "unknown")
    if payer_undetermined(li):  # no rule matched: the value in question, owed by neither side yet
        money = [(t(_("Payer undetermined")), t.money(value_in_question(li)),
                  t(_("{coverage}; cause {cause}; no payer rule of the contract matches: parts and labour worth this "
                      "are owed by neither side until it is decided"), coverage=coverage, cause=cause))]
    elif nothing_to_pay(li):  # no parts, no labour: settled at ¥0.00, no payer question
        money = [(t(_("Nothing to pay")), t.money(0),
                  t(_("{coverage}; cause {cause}; no parts or labour were charged"), coverage=coverage, cause=cause))]
    else:
        money = [
            (t(_("The customer pays")), t.money(li.get("customer_pays_fen") or 0),
             t(_("{coverage}; cause {cause}; rule {clause}"), coverage=coverage, cause=cause,
               clause=clause_text(free(li.get("payer_clause"))) or t(_("(no clause named)")))),
            (t(_("Borne by the supplier (at quoted price)")), t.money(li.get("supplier_pays_fen") or 0),
             t(_("parts {parts}, labour {labour}"), parts=word(lang, "rate", li.get("parts_rate")),
               labour=word(lang, "rate", li.get("labour_rate")))),
        ]
    if li.get("losses_claimed_fen"):
        liable = li.get("supplier_liable_for_losses")
        money.append((t(_("Losses claimed")), t.money(li["losses_claimed_fen"]),
                  (t(_("the supplier is liable under {clause}"),
                     clause=clause_text(free(p.get("losses_clause")))) if liable
                   else t(_("the supplier is not liable")))))
    return money


def render_html(r: Mapping[str, Any], lang: str = "zh_CN", medium: str = "html") -> bytes:
    """The exhibit as one self-contained HTML file (inline CSS and SVG, no script, no remote
    resource), laid out for A4 with page numbers in the page margins. `medium` "pdf": the HTML a
    PDF is printed from, which carries no proof and says where it is."""
    t = texts(lang)
    tz = r["timezone"]
    s, p, a = r["summary"], r.get("parties", {}), r.get("asset", {})
    ex = explanations(r, lang)
    title = report_title(r, t)
    banner = what_if_banner(r.get("what_if"), t)
    css = page_css(t, title, what_if_banner(r.get("what_if"), t, short=True))
    P: list[str] = ["<!DOCTYPE html>", f'<html lang="{t.html_lang}"><head><meta charset="utf-8">',
                    f"<title>{html.escape(title)}</title>",
                    f'<meta name="dcterms.created" content="{e(r.get("evaluated_at") or "")}">',
                    f'<meta name="ticketledger-ticket" content="{e(r["ticket"])}">']
    if r.get("what_if"):  # `proof verify` reads it: the events proven, the verdicts a hypothesis
        wi = r["what_if"]
        P.append(f'<meta name="ticketledger-what-if" content="{e(wi.get("file"))} {e(wi.get("sha256"))}">')
    P.append(f"<style>{css}</style></head><body>")

    # --- first page -----------------------------------------------------------------------------------
    P.append('<section class="first" id="summary">')
    P.append(f"<h1>{html.escape(title)}</h1>")
    if banner:
        P.append(f'<p class="whatif" id="what-if">{html.escape(banner)}</p>')
    known = (t(_("as recorded up to {time}"), time=t.time(r["as_of_recorded"], tz, zone=True, seconds=True))
             if r.get("as_of_recorded") else
             t(_("as the desks had recorded it by {time} (imported facts by the desk's own recording time)"),
               time=t.time(r["as_of_source_recorded"], tz, zone=True, seconds=True))
             if r.get("as_of_source_recorded") else _ledger_state(r, t))
    P.append('<p class="meta">' + html.escape(t(
        _("What the ledger held {known}; verdicts evaluated at {evaluated}. All times are {zone} ({tz}); a "
          "period that ends with a day is written as that day's 24:00."),
        known=known, evaluated=t.time(r.get("evaluated_at"), tz), zone=t.zone_name(tz), tz=tz)) + "</p>")
    severity = _severity_said(r, lang)
    rows = [
        (t(_("Supplier")), party(p.get("supplier_name"), p.get("supplier"))),
        (t(_("Customer")), party(p.get("customer_name"), p.get("customer") or s.get("customer"))),
        (t(_("Contract")), contract_said(r, t)),
        (t(_("Asset")), t(_("{asset}, serial number {serial}, {type} {model}, site {site}"),
                          asset=free(a.get("asset") or s.get("asset")), serial=free(a.get("serial")),
                          type=free(recorded_word(lang, "asset_type", a.get("asset_type"))), model=free(a.get("model")),
                          site=free(a.get("site") or s.get("site")))),
        (t(_("Fault")), t(_("reported {time}; severity {severity}; category {category}"),
                          time=t.time(s.get("reported_at"), tz), severity=severity,
                          category=free(recorded_word(lang, "fault_category", s.get("fault_category"))))),
    ]
    if r.get("replacement"):
        rows.append((t(M["Replacement obligation"]), free(replacement_short(r["replacement"], lang, tz))))
    P.append('<table class="facts">' + _cols(["24mm", "auto"]) + "<tbody>" + "".join(
        f"<tr><th scope=\"row\">{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in rows)
             + "</tbody></table>")

    P.append(f"<h2>{html.escape(t(M['Promises and verdicts']))}</h2>")
    if not r["clocks"]:
        P.append(f"<p>{html.escape(t(M['The views hold no clock for this ticket.']))}</p>")
    else:
        P.append('<table class="verdicts">' + _cols(["19mm", "auto", "29mm", "29mm", "36mm"]) + "<thead><tr>" + "".join(
            f"<th>{html.escape(h)}</th>" for h in (t(M["Clock"]), t(M["Promise and clause"]), t(M["Deadline"]),
                                                 t(_("Stopped")), t(_("Verdict")))) + "</tr></thead><tbody>")
        for c in r["clocks"]:
            promise = target_adjusted(c, t, tz, r.get("clock_inputs", []))
            P.append(f'<tr class="{e(c.get("state"))}" data-clock="{e(c.get("clock"))}">'
                     f'<td><a href="#clock-{e(c.get("clock"))}">{html.escape(word(lang, "clock", c.get("clock")))}</a></td>'
                     f'<td>{html.escape(promise)} <span class="quote">{e(promise_clause(c, t))}</span></td>'
                     f'<td class="num">{html.escape(t.end(c.get("deadline"), tz))}</td>'
                     f'<td class="num">{html.escape(t.time(c.get("stopped_at"), tz))}</td>'
                     f'<td class="verdict">{html.escape(nb(verdict_short(c, lang)))}</td></tr>')
        P.append("</tbody></table>")

    money = _money_rows(r, lang)
    P.append(f"<h2>{html.escape(t(M['Who pays']))}</h2>")
    if not money:
        P.append(f"<p>{html.escape(t(M['The views hold no liability row for this ticket.']))}</p>")
    else:
        P.append('<table class="money">' + _cols(["34mm", "30mm", "auto"]) + "<tbody>" + "".join(
            f'<tr><th scope="row">{html.escape(k)}</th><td class="num">{html.escape(v)}</td>'
            f"<td>{html.escape(why)}</td></tr>" for k, v, why in money) + "</tbody></table>")
    P.append(f"<h2>{html.escape(t(M['Proof']))}</h2>")
    P.append(_lines(proof_status(r, lang, medium)))
    P.append("</section>")

    # --- why: every verdict explained -----------------------------------------------------------------
    P.append(f'<section id="why"><h2>{html.escape(t(M["Why: every verdict explained"]))}</h2>')
    for c in r["clocks"]:
        name = c.get("clock")
        P.append(f'<div class="clock" id="clock-{e(name)}" data-clock="{e(name)}"><h3>'
                 f'{html.escape(word(lang, "clock", name))} — {html.escape(verdict_short(c, lang))}</h3><ol>'
                 + "".join(f"<li>{e(x)}</li>" for x in ex["clocks"].get(name, [])) + "</ol></div>")
    if ex["liability"]:
        P.append(f'<div class="clock" id="liability"><h3>{html.escape(t(M["Coverage and payment"]))}</h3><ol>'
                 + "".join(f"<li>{e(x)}</li>" for x in ex["liability"]) + "</ol></div>")
    P.append("</section>")

    # --- the timeline -----------------------------------------------------------------------------------
    P.append(f'<section id="timeline"><h2>{html.escape(t(M["Timeline"]))}</h2>')
    svg = timeline_svg(r, lang)
    if svg:
        P.append(f'<figure>{svg}<figcaption>{html.escape(t(M["Times on the axis are {zone}."], zone=t.zone_name(tz)))}'
                 "</figcaption></figure>")
    P.append('<table class="events">' + _cols(["11mm", "27mm", "25mm", "25mm", "auto", "24mm"]) + "<thead><tr>"
             + "".join(f"<th>{html.escape(h)}</th>" for h in (
                 t(_("Position")), t(_("Event")), t(_("Occurred")), t(_("Recorded")), t(_("Details")), t(_("By"))))
             + "</tr></thead><tbody>")
    for ev in r["timeline"]:
        occurred = html.escape(t.time(ev["occurred_at"], tz))
        corrected = ev.get("corrected", {})
        if "occurred_at" in corrected:
            occurred = (f'<span class="old">{html.escape(t.time(corrected["occurred_at"]["original"], tz))}</span> '
                        f'{html.escape(t.time(corrected["occurred_at"]["corrected"], tz))}')
        recorded = html.escape(recorded_said(ev, t, tz))
        lines = detail_lines(ev["type"], ev["detail"], lang, tz) if ev["type"] != "FactCorrected" else \
            _correction_lines(ev, r, lang, tz)
        if ev.get("late"):
            lines.insert(0, t(_("late entry: recorded {lateness} after it occurred (default tolerance {tolerance}; "
                                "the contract sets none)") if ev["late"].get("default_tolerance") else
                              _("late entry: recorded {lateness} after it occurred (tolerance {tolerance})"),
                              lateness=t.duration(ev["late"]["lateness_minutes"]),
                              tolerance=t.duration(ev["late"]["tolerance_minutes"])))
        for k in corrected:
            if k != "occurred_at":
                lines.append(t(_("{field} corrected: {original} → {corrected}"), field=word(lang, "field", k),
                               original=changed_value(k, corrected[k]["original"], lang, tz),
                               corrected=changed_value(k, corrected[k]["corrected"], lang, tz)))
        late_class = ' class="late"' if ev.get("late") else ""
        P.append(f'<tr id="p{ev["position"]}"{late_class}>'
                 f'<td class="num">{ev["position"]}</td><td>{html.escape(word(lang, "event", ev["type"]))}</td>'
                 f"<td>{occurred}</td><td>{recorded}</td><td>{_lines(lines)}</td><td>{e(ev.get('actor'))}</td></tr>")
    P.append("</tbody></table></section>")

    # --- corrections and late entries ------------------------------------------------------------------
    P.append(f'<section id="corrections"><h2>{html.escape(t(M["Corrections and late entries"]))}</h2>')
    if not r["corrections"] and not r.get("late_rows"):
        P.append(f"<p>{html.escape(t(M['None.']))}</p>")
    for c in r["corrections"]:
        changes = "; ".join(t(_("{field}: {original} → {corrected}"), field=word(lang, "field", k),
                              original=changed_value(k, c["original"].get(k), lang, tz),
                              corrected=changed_value(k, v, lang, tz)) for k, v in c["corrected"].items())
        P.append(f'<div class="clock"><h3>{html.escape(t(M["Correction at log position {position}"], position=c["position"]))}'
                 "</h3><ul>")
        P.append("<li>" + html.escape(t(_("Corrects {event} at log position {target}: {changes}."),
                                          event=word(lang, "event", c.get("corrects_type")),
                                          target=c.get("corrects_position") or "", changes=changes)) + "</li>")
        P.append("<li>" + html.escape(t(_("Reason: {reason} — by {actor}, recorded {time}."),
                                          reason=free(c.get("reason")), actor=free(c.get("actor")),
                                          time=t.time(c.get("recorded_at"), tz))) + "</li>")
        for sentence in ex["corrections"].get(str(c["position"]), []):
            P.append(f"<li>{e(sentence)}</li>")
        P.append("</ul></div>")
    late = r.get("late_rows", [])
    if late:
        from .explanations import late_sentence

        P.append(f"<h3>{html.escape(t(M['Late entries']))}</h3><ul>"
                 + "".join(f"<li>{e(late_sentence(x, lang, tz))}</li>" for x in late) + "</ul>")
    P.append("</section>")

    # --- evidence ------------------------------------------------------------------------------------------
    P.append(f'<section id="evidence"><h2>{html.escape(t(M["Evidence files"]))}</h2>')
    if not r["evidence"]:
        P.append(f"<p>{html.escape(t(M['None attached.']))}</p>")
    else:
        P.append('<table class="files">' + _cols(["11mm", "auto", "24mm", "22mm", "50mm"]) + "<thead><tr>" + "".join(
            f"<th>{html.escape(h)}</th>" for h in (t(M["Position"]), t(M["File"]), t(M["Attached by"]),
                                                 t(_("File check")), "SHA-256")) + "</tr></thead><tbody>")
        for f in r["evidence"]:
            name = e(f["filename"] or f["sha256"][:12])
            link = f'<a href="{e(f["href"])}">{name}</a>' if f.get("href") else name
            about = ", ".join(x for x in (free(f.get("description")), free(f.get("media_type")),
                                          t(_("{n} bytes"), n=t.number(f.get("size") or 0))) if x)
            P.append(f'<tr><td class="num">{f["position"]}</td><td>{link}<br>{html.escape(about)}</td>'
                     f'<td>{e(f.get("actor"))}</td><td>{html.escape(_file_status(f.get("status"), t))}</td>'
                     f'<td class="hash">{e(f["sha256"])}</td></tr>')
        P.append("</tbody></table>")
    P.append("</section>")

    # --- annex: contract versions, log positions and links ------------------------------------------------
    P.append(f'<section id="annex"><h2>{html.escape(t(M["Annex: contract versions and the log"]))}</h2><ul>')
    for v in r["contract_versions"]:
        P.append("<li>" + html.escape(t(
            _("{contract} version {version} ({event}), in force from {start}; log position {position}."),
            contract=free(v["contract"]), version=v["version"], event=word(lang, "event", v["type"]),
            start=t.time(v["in_force_from"], tz) if v["in_force_from"] != "(start)" else t(_("its registration")),
            position=v["position"])) + "</li>")
    P.append("</ul>")
    P.append(_beyond_bounds_html(r, lang))
    P.append("<p>" + html.escape(_evaluation_time_said(r, t)) + "</p>")
    P.append('<table class="log">' + _cols(["13mm", "30mm", "39mm", "auto"]) + "<thead><tr>" + "".join(
        f"<th>{html.escape(h)}</th>" for h in (t(M["Position"]), t(M["Event"]), t(M["Recorded (UTC)"]),
                                             t(M["Chain link"])))
             + "</tr></thead><tbody>")
    for x in _cited(r):
        P.append(f'<tr><td class="num">{x["position"]}</td><td>{html.escape(word(lang, "event", x["type"]))}</td>'
                 f'<td class="hash utc">{e(x["recorded_at_exact"])}</td><td class="hash">{e(x["link"])}</td></tr>')
    P.append("</tbody></table>")
    P.append("<p>" + html.escape(t(_("Each link is SHA-256(previous link | position | recording time | originator | "
                                      "version | topic | SHA-256 of the stored fact); `ticketledger verify` "
                                      "recomputes them from the log."))) + "</p>")
    proofs = r.get("proofs")
    if proofs and proofs.get("annex"):
        P.append(_lines([free(x) for x in proofs["annex"]]))
    P.append("</section>")
    P.append(_tlog_html(r, t, medium))
    P.append("</body></html>")
    return ("\n".join(P) + "\n").encode()


BEYOND_BOUNDS = _("Recorded before today's bounds")
BY = _("By")


def _beyond_bounds(r: Mapping[str, Any], lang: str) -> list[str]:
    """Cited facts recorded before today's bounds that hold values beyond them, and what the views
    did with each (projections' `beyond_bounds`, issue 14)."""
    t = texts(lang)
    return [t(_("Log position {position} ({event}): {field} is {value}, beyond today's bound ({bound}); "
                "in the views: {effect}."), position=b["position"], event=word(lang, "event", b["type"]),
              field=free(b["field"]), value=free(b["value"]), bound=free(b["bound"]), effect=free(b["effect"]))
            for b in r.get("beyond_bounds") or []]


def _beyond_bounds_html(r: Mapping[str, Any], lang: str) -> str:
    lines = _beyond_bounds(r, lang)
    if not lines:
        return ""
    return f"<h3>{html.escape(texts(lang)(BEYOND_BOUNDS))}</h3>" + _lines(lines)


def _correction_lines(ev: Mapping[str, Any], r: Mapping[str, Any], lang: str, tz: str) -> list[str]:
    t = texts(lang)
    d = ev["detail"]
    c = next((x for x in r["corrections"] if x["position"] == ev["position"]), None)
    target = c.get("corrects_position") if c else None
    out = [t(_("corrects log position {position}"), position=target if target is not None else "?")]
    for k, v in (d.get("changes") or {}).items():
        out.append(f"{word(lang, 'field', k)}: {changed_value(k, v, lang, tz)}")
    if d.get("reason"):
        out.append(f"{word(lang, 'field', 'reason')}: {free(d['reason'])}")
    return out


def _file_status(status: Any, t: Texts) -> str:
    return {"ok": t(_("matches")), "missing": t(_("missing")), "altered": t(_("altered"))}.get(
        str(status), t(_("not checked")))


def _cited(r: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    seen: dict[int, Mapping[str, Any]] = {}
    for x in [*r["timeline"], *r["contract_versions"], *r["asset_events"]]:
        seen.setdefault(x["position"], x)
    return [seen[p] for p in sorted(seen)]


# --- Markdown -------------------------------------------------------------------------------------------


# Markdown syntax in recorded text is escaped, so no raw HTML (`<img onerror>`), link
# (`javascript:`) or remote image recorded by anyone reaches a Markdown viewer as markup.
# Parentheses and `!` need no escape: a link or image needs a `[`, which is escaped.
_MD_SYNTAX = re.compile(r"([\\`*_~\[\]<>|&#])")
# our own sentences that name commands in `code` (proof, how to check): the backticks kept, as a code
# span shows what it holds as text whatever a recorded value inside it holds
_MD_SYNTAX_CODE = re.compile(r"([\\*_~\[\]<>|&#])")


def recorded_said(ev: Mapping[str, Any], t: Texts, tz: str) -> str:
    """An event's recording time in the timeline: the source desk's, marked so, where it has one."""
    if ev.get("source_recorded_at"):
        return t(_("{time} (source desk)"), time=t.time(ev["source_recorded_at"], tz))
    return t.time(ev["recorded_at"], tz)


def _md(text: Any, *, code: bool = False) -> str:
    return (_MD_SYNTAX_CODE if code else _MD_SYNTAX).sub(r"\\\1", free(text)).replace("\n", " ")


def render_md(r: Mapping[str, Any], lang: str = "zh_CN") -> bytes:
    """The same report as Markdown: first-page facts, verdicts, money, then the explanations,
    corrections, late entries, timeline and annex."""
    t = texts(lang)
    tz = r["timezone"]
    s, p = r["summary"], r.get("parties", {})
    ex = explanations(r, lang)
    L = [f"# {_md(report_title(r, t))}", ""]
    if r.get("what_if"):
        L += [f"> **{_md(what_if_banner(r['what_if'], t))}**", ""]
    L.append(t.sentences(t(_("Times are {zone} ({tz})."), zone=t.zone_name(tz), tz=tz), t(
        _("Verdicts evaluated at {evaluated}."), evaluated=t.time(r.get("evaluated_at"), tz)), _md(t(
            _("The ledger as read: {state}."), state=_ledger_state(r, t)))))
    L.append("")
    def item(label: str, value: str) -> str:  # "- 供应商：…" / "- Supplier: …", the colon of the language
        return "- " + t(_("{label}: {value}"), label=label, value=value)

    L.append(item(t(M["Supplier"]), _md(party(p.get("supplier_name"), p.get("supplier")))))
    L.append(item(t(M["Customer"]), _md(party(p.get("customer_name"), p.get("customer") or s.get("customer")))))
    L.append(item(t(M["Contract"]), _md(contract_said(r, t))))
    a = r.get("asset", {})
    L.append(item(t(M["Asset"]), _md(t(_("{asset}, serial number {serial}, {type} {model}, site {site}"),
                                         asset=free(a.get("asset") or s.get("asset")), serial=free(a.get("serial")),
                                         type=free(recorded_word(lang, "asset_type", a.get("asset_type"))),
                                         model=free(a.get("model")), site=free(a.get("site") or s.get("site"))))))
    L.append(item(t(_("Fault")), _md(t(_("reported {time}; severity {severity}; category {category}"),
                                        time=t.time(s.get("reported_at"), tz), severity=_severity_said(r, lang),
                                        category=recorded_word(lang, "fault_category", s.get("fault_category"))))))
    if r.get("replacement"):
        L.append(item(t(M["Replacement obligation"]), _md(replacement_short(r["replacement"], lang, tz))))
    L.append("")
    L.append(f"## {t(M['Promises and verdicts'])}")
    L.append("")
    L.append(f"| {t(M['Clock'])} | {t(M['Promise and clause'])} | {t(M['Deadline'])} | {t(M['Stopped'])} | "
             f"{t(M['Verdict'])} |")
    L.append("|---|---|---|---|---|")
    for c in r["clocks"]:
        L.append(f"| {word(lang, 'clock', c.get('clock'))} | {target_adjusted(c, t, tz, r.get('clock_inputs', []))} {_md(promise_clause(c, t))} | "
                 f"{t.end(c.get('deadline'), tz)} | {t.time(c.get('stopped_at'), tz)} | {verdict_short(c, lang)} |")
    L.append("")
    L += [f"## {t(M['Who pays'])}", ""]
    money = _money_rows(r, lang)
    if not money:
        L.append(t(M["The views hold no liability row for this ticket."]))
    else:
        L += ["| | | |", "|---|---:|---|"] + [f"| {k} | {v} | {_md(why)} |" for k, v, why in money]
    L.append("")
    L.append(f"## {t(M['Why: every verdict explained'])}")
    for c in r["clocks"]:
        L.append("")
        L.append(f"### {word(lang, 'clock', c.get('clock'))}")
        L.append("")
        L += [f"{i}. {_md(x)}" for i, x in enumerate(ex["clocks"].get(c.get("clock"), []), 1)]
    if ex["liability"]:
        L += ["", f"### {t(M['Coverage and payment'])}", ""]
        L += [f"{i}. {_md(x)}" for i, x in enumerate(ex["liability"], 1)]
    L += ["", f"## {t(M['Corrections and late entries'])}", ""]
    if not r["corrections"] and not r.get("late_rows"):
        L.append(t(_("None.")))
    for c in r["corrections"]:
        changes = "; ".join(t(_("{field}: {original} → {corrected}"), field=word(lang, "field", k),
                              original=changed_value(k, c["original"].get(k), lang, tz),
                              corrected=changed_value(k, v, lang, tz)) for k, v in c["corrected"].items())
        L.append(f"- {t(M['Correction at log position {position}'], position=c['position'])}: "
                 f"{_md(changes)} — {_md(c.get('reason'))}")
        L += [f"  - {_md(x)}" for x in ex["corrections"].get(str(c["position"]), [])]
    if r.get("late_rows"):
        from .explanations import late_sentence

        L += [f"- {_md(late_sentence(x, lang, tz))}" for x in r["late_rows"]]
    L += ["", f"## {t(M['Timeline'])}", "",
          f"| {t(M['Position'])} | {t(M['Event'])} | {t(M['Occurred'])} | {t(M['Recorded'])} | {t(M['Details'])} "
          f"| {t(BY)} |", "|---:|---|---|---|---|---|"]
    for ev in r["timeline"]:
        lines = detail_lines(ev["type"], ev["detail"], lang, tz) if ev["type"] != "FactCorrected" else \
            _correction_lines(ev, r, lang, tz)
        occurred = t.time(ev["occurred_at"], tz)
        if "occurred_at" in ev.get("corrected", {}):
            k = ev["corrected"]["occurred_at"]
            occurred = f"~~{t.time(k['original'], tz)}~~ {t.time(k['corrected'], tz)}"
        L.append(f"| {ev['position']} | {word(lang, 'event', ev['type'])} | {occurred} | "
                 f"{recorded_said(ev, t, tz)} | {_md('; '.join(lines))} | "
                 f"{_md(ev.get('actor'))} |")
    beyond = _beyond_bounds(r, lang)
    if beyond:
        L += ["", f"## {t(BEYOND_BOUNDS)}", ""] + [f"- {_md(x)}" for x in beyond]
    L += ["", f"## {t(M['Proof'])}", ""]
    L += [f"- {_md(x, code=True)}" for x in proof_status(r, lang, "md")]
    L += ["", _md(_evaluation_time_said(r, t), code=True)]
    L += ["", f"| {t(M['Position'])} | {t(M['Event'])} | {t(M['Recorded (UTC)'])} | {t(M['Chain link'])} |",
          "|---:|---|---|---|"]
    L += [f"| {x['position']} | {word(lang, 'event', x['type'])} | {x['recorded_at_exact']} | `{x['link']}` |"
          for x in _cited(r)]
    ev = (r.get("proofs") or {}).get("evidence")
    if ev:  # the Markdown carries no proof: say where it is, and print the checkpoint as signed
        L += ["", f"## {t(M['How to check this report'])}", ""]
        for x in how_to_check(r, t, "md"):
            L += [_md(x, code=True), ""]
        L += [t(M["Signed checkpoint"]), "", "```", *ev["checkpoint"].rstrip("\n").split("\n"), "```"]
    if r.get("what_if"):  # said again at the end: a page printed from the end still carries it
        L += ["", f"> **{_md(what_if_banner(r['what_if'], t))}**"]
    return ("\n".join(L) + "\n").encode()


RENDERERS: dict[str, Callable[[Mapping[str, Any], str], bytes]] = {"html": render_html, "md": render_md}
