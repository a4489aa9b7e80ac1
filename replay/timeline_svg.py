"""The dispute report's timeline picture: one inline SVG, readable on screen and in grey on paper.

Lanes, top to bottom: event labels (placed in rows so that none collides), the events at the
time they occurred (a corrected fact at its corrected time, its original shown hollow and joined
to it), the waits, one bar per clock (time allowed, time used, pauses, breach, stop), the times
the events were recorded (the source desk's own where imported; a late entry's link drawn
dashed), a time axis with ticks in the contract's local time, and a legend. Shapes and
hatching, not colour alone, tell the parts apart. Every text is placed inside the picture
from a conservative width estimate, so nothing is clipped.

Geometry only: the instants are the report's (views and log), nothing is decided here.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from .i18n import texts, to_local, word

W = 800  # user units; the figure is scaled to the page's width
LEFT = 132  # the lane labels' column
RIGHT = 14
FONT = 10.5
ROW = 17  # height of a row of labels (a CJK line's box is ~1.4 em)
LABEL_ROWS = 8  # at most; labels that find no room are left to the table below
DASHED = ' stroke-dasharray="4 2"'
STEPS_MIN = (5, 10, 15, 30, 60, 120, 180, 360, 720, 1440, 2880, 10080, 20160, 43200)


def _(message: str) -> str:
    return message


# Words of the frame used inside f-strings (the extractor reads no f-string): marked here
M = {m: m for m in (
    _("original time, corrected"),
    _("pause"),
    _("deadline"),
    _("stopped"),
    _("recorded"),
)}


def text_width(text: str, size: float = FONT) -> float:
    """A conservative width of `text` in user units (CJK full width, Latin 0.62 em)."""
    return sum(size if ord(ch) >= 0x2E80 else size * 0.62 for ch in text)


def _e(s: Any) -> str:
    return html.escape(str(s), quote=True)


def _sec(instant: Any) -> float | None:
    local = to_local(instant, "UTC")
    return local.timestamp() if local is not None else None


class _Rows:
    """Rows of labels: each label goes into the first row where it does not touch another; None
    when `limit` rows are full."""

    def __init__(self, limit: int | None = None) -> None:
        self.right: list[float] = []
        self.limit = limit

    def place(self, x0: float, x1: float) -> int | None:
        for i, r in enumerate(self.right):
            if x0 > r + 6:
                self.right[i] = x1
                return i
        if self.limit is not None and len(self.right) >= self.limit:
            return None
        self.right.append(x1)
        return len(self.right) - 1


def timeline_svg(r: Mapping[str, Any], lang: str) -> str:
    t = texts(lang)
    tz = r["timezone"]
    events = r["timeline"]
    clocks = r["clocks"]
    ev_at = r.get("evaluated_at")

    # --- the span -----------------------------------------------------------------------------
    field: list[float] = []
    for e in events:
        field.append(_sec(e["occurred_at"]))
        orig = e.get("corrected", {}).get("occurred_at")
        if orig:
            field.append(_sec(orig["original"]))
    for c in clocks:
        field += [_sec(c.get("start")), _sec(c.get("deadline")), _sec(c.get("stopped_at"))]
    waits = _waits(events, ev_at)
    for w in waits:
        field += [w["a"], w["b"]]
    field = [x for x in field if x is not None]
    if not field:
        return ""
    t0, t1 = min(field), max(field)
    span = max(t1 - t0, 3600.0)
    far = t1 + 0.5 * span  # recordings later than this are drawn at the right edge (»)
    recorded = [(e, _sec(e.get("source_recorded_at") or e["recorded_at"])) for e in events]
    near = [x for _, x in recorded if x is not None and x <= far]
    plot_w = W - LEFT - RIGHT - 14  # room for » at the right edge
    scale = _Scale(field + near + ([_sec(ev_at)] if ev_at and _sec(ev_at) <= far else []), LEFT, plot_w)
    x = scale.x

    out: list[str] = []
    y = 4.0

    # --- event labels in rows, then the occurred lane -------------------------------------------
    rows = _Rows(LABEL_ROWS)
    labels = []
    for e in events:
        xs = x(_sec(e["occurred_at"]))
        text = f"{e['position']} {word(lang, 'event', e['type'])}"
        w = text_width(text)
        x0 = min(max(xs - 3, LEFT), W - RIGHT - w)
        row = rows.place(x0, x0 + w)
        if row is not None:
            labels.append((e, xs, x0, text, row))
    label_h = ROW * max(len(rows.right), 1)
    occ_y = y + label_h + 10
    for _event, xs, x0, text, row in labels:
        ty = y + ROW * row + FONT
        out.append(f'<line x1="{xs:.1f}" y1="{ty + 2:.1f}" x2="{xs:.1f}" y2="{occ_y - 4:.1f}" stroke="#999" '
                   'stroke-width="0.6"/>')
        out.append(f'<text x="{x0:.1f}" y="{ty:.1f}">{_e(text)}</text>')
    out.append(_lane_label(t(_("occurred")), occ_y))
    out.append(f'<line x1="{LEFT}" y1="{occ_y:.1f}" x2="{W - RIGHT}" y2="{occ_y:.1f}" stroke="#444" stroke-width="0.8"/>')
    for e in events:
        xs = x(_sec(e["occurred_at"]))
        orig = e.get("corrected", {}).get("occurred_at")
        if orig:
            xo = x(_sec(orig["original"]))
            out.append(f'<line x1="{xo:.1f}" y1="{occ_y:.1f}" x2="{xs:.1f}" y2="{occ_y:.1f}" stroke="#000" '
                       'stroke-width="1.2" stroke-dasharray="3 2"/>')
            out.append(f'<circle cx="{xo:.1f}" cy="{occ_y:.1f}" r="3.6" fill="#fff" stroke="#000" stroke-width="1.2">'
                       f'<title>{_e(t(M["original time, corrected"]))}: {_e(t.time(orig["original"], tz))}</title></circle>')
        out.append(f'<circle cx="{xs:.1f}" cy="{occ_y:.1f}" r="3.6" fill="#000"><title>{e["position"]} '
                   f'{_e(word(lang, "event", e["type"]))} {_e(t.time(e["occurred_at"], tz))}</title></circle>')
    y = occ_y + 12

    # --- waits -----------------------------------------------------------------------------------
    if waits:
        wy = y
        out.append(_lane_label(t(_("waits")), wy + 6))
        wrows = _Rows()
        placed = []
        for w in waits:
            xa, xb = x(w["a"]), x(w["b"])
            text = f"{word(lang, 'wait', w['reason'])} {t.duration((w['b'] - w['a']) / 60)}"
            tw = text_width(text, FONT - 1)
            x0 = min(max(xa, LEFT), W - RIGHT - tw)
            placed.append((w, xa, xb, x0, text, wrows.place(min(x0, xa), max(x0 + tw, xb))))
        for _w, xa, xb, x0, text, row in placed:
            by = wy + row * (ROW + 10)
            out.append(f'<rect x="{xa:.1f}" y="{by:.1f}" width="{max(xb - xa, 1.5):.1f}" height="8" '
                       f'fill="url(#wait)" stroke="#333" stroke-width="0.7"><title>{_e(text)}</title></rect>')
            out.append(f'<text x="{x0:.1f}" y="{by + 8 + FONT:.1f}" font-size="{FONT - 1}">{_e(text)}</text>')
        y = wy + len(wrows.right) * (ROW + 10) + 6

    # --- clocks ----------------------------------------------------------------------------------
    pauses = _pauses(r.get("clock_inputs", []), ev_at)
    for c in clocks:
        cy = y + 4
        out.append(f'<text x="4" y="{cy + 7:.1f}" font-weight="600">{_e(word(lang, "clock", c.get("clock")))}</text>')
        verdict = _verdict(c, lang)
        size = _size_to_fit(verdict, LEFT - 8, FONT - 1.5, 5.5)  # a verdict is read whole, not cut
        out.append(f'<text x="4" y="{cy + 23:.1f}" font-size="{size:g}">'
                   f'{_e(_fit(verdict, LEFT - 8, size))}</text>')
        start, deadline = _sec(c.get("start")), _sec(c.get("deadline"))
        stop = _sec(c.get("stopped_at"))
        if c.get("state") == "not_applicable" or start is None or deadline is None:
            y += 2 * ROW + 4
            continue
        end = stop if stop is not None else _sec(ev_at) or deadline
        xs, xd, xe = x(start), x(deadline), x(end)
        out.append(f'<rect x="{xs:.1f}" y="{cy:.1f}" width="{max(xd - xs, 1):.1f}" height="10" fill="#fff" '
                   'stroke="#000" stroke-width="0.8"/>')
        used = min(xe, xd)
        out.append(f'<rect x="{xs:.1f}" y="{cy + 2:.1f}" width="{max(used - xs, 0.5):.1f}" height="6" fill="#9a9a9a"/>')
        for a, b in pauses.get(c.get("clock"), []):
            xa, xb = x(a), x(b)
            out.append(f'<rect x="{xa:.1f}" y="{cy:.1f}" width="{max(xb - xa, 1.5):.1f}" height="10" '
                       f'fill="url(#wait)" stroke="#333" stroke-width="0.5"><title>{_e(t(M["pause"]))} '
                       f'{_e(t.duration((b - a) / 60))}</title></rect>')
        if end > deadline:
            out.append(f'<rect x="{xd:.1f}" y="{cy:.1f}" width="{max(xe - xd, 1.5):.1f}" height="10" '
                       f'fill="url(#breach)" stroke="#000" stroke-width="0.8"><title>{_e(_verdict(c, lang))}'
                       '</title></rect>')
        out.append(f'<line x1="{xd:.1f}" y1="{cy - 3:.1f}" x2="{xd:.1f}" y2="{cy + 13:.1f}" stroke="#000" '
                   f'stroke-width="1.6"><title>{_e(t(M["deadline"]))} {_e(t.end(c.get("deadline"), tz))}</title></line>')
        if stop is not None:
            out.append(f'<path d="M{xe:.1f} {cy + 11:.1f} l4.5 7 l-9 0 z" fill="#000"><title>{_e(t(M["stopped"]))} '
                       f'{_e(t.time(c.get("stopped_at"), tz))}</title></path>')
        y += 2 * ROW + 6

    # --- recorded lane ----------------------------------------------------------------------------
    rec_y = y + 8
    out.append(_lane_label(t(_("recorded")), rec_y))
    out.append(f'<line x1="{LEFT}" y1="{rec_y:.1f}" x2="{W - RIGHT}" y2="{rec_y:.1f}" stroke="#444" stroke-width="0.8"/>')
    beyond = False
    for e, sec in recorded:
        if sec is None:
            continue
        xo, late = x(_sec(e["occurred_at"])), bool(e.get("late"))
        if sec > far:
            beyond = True
            xr = W - RIGHT - 8
        else:
            xr = x(sec)
        out.append(f'<line x1="{xo:.1f}" y1="{occ_y + 4:.1f}" x2="{xr:.1f}" y2="{rec_y - 4:.1f}" '
                   f'stroke="{"#000" if late else "#bbb"}" stroke-width="{1.1 if late else 0.5}"'
                   f'{DASHED if late else ""}/>')
        tip = f"{e['position']} {t(M['recorded'])} {t.time(e.get('source_recorded_at') or e['recorded_at'], tz)}"
        if e.get("source_recorded_at"):
            out.append(f'<path d="M{xr:.1f} {rec_y - 4:.1f} l4 4 l-4 4 l-4 -4 z" fill="#555"><title>{_e(tip)}</title></path>')
        else:
            out.append(f'<rect x="{xr - 3:.1f}" y="{rec_y - 3:.1f}" width="6" height="6" fill="#555">'
                       f'<title>{_e(tip)}</title></rect>')
    if beyond:
        out.append(f'<text x="{W - RIGHT - 4:.1f}" y="{rec_y + 4:.1f}" text-anchor="end" font-weight="600">»</text>')
    y = rec_y + 10

    # --- the axis ------------------------------------------------------------------------------------
    ax_y = y + 4
    out.append(f'<line x1="{LEFT}" y1="{ax_y:.1f}" x2="{W - RIGHT}" y2="{ax_y:.1f}" stroke="#000" stroke-width="0.8"/>')
    right = LEFT - 10.0  # the last tick label's right edge: labels that would touch it are left out
    for sec, label in scale.ticks(tz):
        xt = x(sec)
        out.insert(0, f'<line x1="{xt:.1f}" y1="{occ_y:.1f}" x2="{xt:.1f}" y2="{ax_y:.1f}" stroke="#e2e2e2" '
                      'stroke-width="0.6"/>')
        out.append(f'<line x1="{xt:.1f}" y1="{ax_y:.1f}" x2="{xt:.1f}" y2="{ax_y + 4:.1f}" stroke="#000"/>')
        tw = text_width(label, FONT - 1)
        tx = min(max(xt - tw / 2, LEFT - 4), W - RIGHT - tw)
        if tx > right + 6:
            out.append(f'<text x="{tx:.1f}" y="{ax_y + 5 + FONT:.1f}" font-size="{FONT - 1}">{_e(label)}</text>')
            right = tx + tw
    for xb in scale.breaks():  # time left out: a long quiet stretch, marked on every time line
        for ly in (occ_y, rec_y, ax_y):
            out.append(f'<rect x="{xb - 4:.1f}" y="{ly - 5:.1f}" width="8" height="10" fill="#fff"/>'
                       f'<path d="M{xb - 5:.1f} {ly + 4:.1f} l4 -8 M{xb + 1:.1f} {ly + 4:.1f} l4 -8" stroke="#000" '
                       'stroke-width="1"/>')
    y = ax_y + 5 + FONT + 10

    # --- legend ----------------------------------------------------------------------------------------
    items = [
        ("occ", t(_("occurred"))), ("orig", t(_("original time, corrected"))), ("src", t(_("recorded by the source desk"))),
        ("rec", t(_("recorded in the ledger"))), ("late", t(_("late entry"))), ("wait", t(_("wait or pause"))),
        ("allowed", t(_("time allowed"))), ("used", t(_("time used"))), ("breach", t(_("breach"))),
        ("deadline", t(_("deadline"))), ("stop", t(_("stopped"))),
    ]
    if beyond:
        items.append(("beyond", t(_("recorded later, off the axis"))))
    lx, ly = 4.0, y
    for key, label in items:
        w = 22 + text_width(label, FONT - 1) + 14
        if lx + w > W - RIGHT:
            lx, ly = 4.0, ly + ROW + 2
        out.append(_legend_symbol(key, lx, ly))
        out.append(f'<text x="{lx + 22:.1f}" y="{ly + 4:.1f}" font-size="{FONT - 1}">{_e(label)}</text>')
        lx += w
    height = ly + ROW
    defs = ('<defs><pattern id="wait" width="5" height="5" patternUnits="userSpaceOnUse">'
            '<rect width="5" height="5" fill="#fff"/><circle cx="2.5" cy="2.5" r="1" fill="#333"/></pattern>'
            '<pattern id="breach" width="5" height="5" patternUnits="userSpaceOnUse" patternTransform="rotate(45)">'
            '<rect width="5" height="5" fill="#fff"/><rect width="2.2" height="5" fill="#000"/></pattern></defs>')
    title = t(_("Timeline of ticket {ticket}"), ticket=r["ticket"])
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {height:.0f}" role="img" '
            f'aria-label="{_e(title)}" font-size="{FONT}" '
            'font-family="Noto Sans CJK SC, Noto Sans, sans-serif" fill="#000">'
            f"<title>{_e(title)}</title>{defs}" + "".join(out) + "</svg>")


def _lane_label(text: str, y: float) -> str:
    return f'<text x="4" y="{y + 4:.1f}" font-size="{FONT - 1}" fill="#333">{_e(_fit(text, LEFT - 8, FONT - 1))}</text>'


def _size_to_fit(text: str, width: float, size: float, smallest: float) -> float:
    """The largest font size from `size` down to `smallest` (half points) at which `text` fits on
    one line of `width`."""
    while size > smallest and text_width(text, size) > width:
        size -= 0.5
    return size


def _fit(text: str, width: float, size: float) -> str:
    """Text shortened with … to fit `width` (lane labels only; the tables say it in full)."""
    if text_width(text, size) <= width:
        return text
    while text and text_width(text + "…", size) > width:
        text = text[:-1]
    return text + "…"


def _verdict(c: Mapping[str, Any], lang: str) -> str:
    from .explanations import verdict_short

    return verdict_short(c, lang)


def _waits(events: Sequence[Mapping[str, Any]], ev_at: Any) -> list[dict[str, Any]]:
    """Wait intervals as the log states them: a start and the next end of the same reason (an
    open one runs to the evaluation time). Drawn as facts; which clocks they paused is the
    views' (clock_inputs) and drawn on the clock bars."""
    open_: dict[str, float] = {}
    out = []
    for e in sorted(events, key=lambda e: e["position"]):
        reason = e["detail"].get("reason")
        at = _sec(e["occurred_at"])
        if e["type"] == "WaitStarted" and reason not in open_:
            open_[reason] = at
        elif e["type"] == "WaitEnded" and reason in open_:
            out.append({"reason": reason, "a": open_.pop(reason), "b": at})
    end = _sec(ev_at)
    for reason, a in open_.items():
        out.append({"reason": reason, "a": a, "b": end if end is not None else a})
    return sorted(out, key=lambda w: w["a"])


def _pauses(inputs: Sequence[Mapping[str, Any]], ev_at: Any) -> dict[str, list[tuple[float, float]]]:
    out: dict[str, list[tuple[float, float]]] = {}
    for i in inputs:
        if i.get("kind") in ("wait", "reopen") and i.get("applied") and (i.get("minutes") or 0) > 0:
            a, b = _sec(i.get("at")), _sec(i.get("until") or ev_at)
            if a is not None and b is not None:
                out.setdefault(i.get("clock"), []).append((a, b))
    return out


class _Scale:
    """Time to x, piecewise linear: stretches of activity share the width in proportion to their
    length, and a quiet stretch longer than an eighth of the whole (and two hours) is cut to a
    narrow break, so that an hour of events is not lost beside days of waiting."""

    GAP = 20.0

    def __init__(self, instants: Sequence[float], left: float, width: float) -> None:
        pts = sorted(set(instants))
        total = max(pts[-1] - pts[0], 3600.0)
        cut = max(total / 8, 2 * 3600.0)
        pad = total * 0.015
        spans = [[pts[0], pts[0]]]
        for p in pts[1:]:
            if p - spans[-1][1] > cut:
                spans.append([p, p])
            else:
                spans[-1][1] = p
        self.spans = [(a - pad, b + pad) for a, b in spans]
        dense = width - self.GAP * (len(self.spans) - 1)
        lengths = [b - a for a, b in self.spans]
        floor = min(40.0, dense / len(lengths))  # a short stretch still gets room for its marks
        extra = dense - floor * len(lengths)
        self.widths = [floor + extra * n / sum(lengths) for n in lengths]
        self.lefts = []
        at = left
        for w in self.widths:
            self.lefts.append(at)
            at += w + self.GAP

    def x(self, sec: float) -> float:
        spans, lefts, widths = self.spans, self.lefts, self.widths
        if sec <= spans[0][0]:
            return lefts[0]
        for i, ((a, b), l0, w) in enumerate(zip(spans, lefts, widths, strict=True)):
            if sec <= b:
                return l0 + (sec - a) / (b - a) * w
            if i + 1 < len(spans) and sec < spans[i + 1][0]:  # inside a break
                frac = (sec - b) / (spans[i + 1][0] - b)
                return l0 + w + frac * self.GAP
        return lefts[-1] + widths[-1]

    def breaks(self) -> list[float]:
        return [l0 + w + self.GAP / 2 for l0, w in zip(self.lefts[:-1], self.widths[:-1], strict=True)]

    def ticks(self, tz: str) -> list[tuple[float, str]]:
        """Ticks at round local times in each stretch, at most one per 95 units."""
        out = []
        for (a, b), w in zip(self.spans, self.widths, strict=True):
            out += _ticks(a, b, tz, w)
        return out


FIRST_TICK = datetime(1, 1, 3, tzinfo=UTC).timestamp()
LAST_TICK = datetime(9999, 12, 29, tzinfo=UTC).timestamp()


def _ticks(t0: float, t1: float, tz: str, width: float) -> list[tuple[float, str]]:
    """Ticks at round local times between t0 and t1, at most one per 95 units of `width`."""
    # a fact recorded before today's bounds may lie at year 1 or 9999: ticks stay in datetime's range
    t0, t1 = max(t0, FIRST_TICK), min(t1, LAST_TICK)
    if t1 < t0:
        return []
    minutes = (t1 - t0) / 60
    most = max(int(width // 95), 1)
    step = next((s for s in STEPS_MIN if minutes / s <= most), STEPS_MIN[-1])
    local0 = to_local(datetime.fromtimestamp(t0, tz=UTC), tz)
    if step >= 1440:
        first = local0.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
    else:
        first = local0.replace(minute=0, second=0, microsecond=0)
        while first.timestamp() < t0:
            first += timedelta(minutes=step if step < 60 else 60)
        if step >= 60:
            while first.hour % (step // 60):
                first += timedelta(hours=1)
    fmt = "%m-%d" if step >= 1440 else "%m-%d %H:%M"
    out = []
    tick = first
    while tick.timestamp() <= t1:
        out.append((tick.timestamp(), tick.strftime(fmt)))
        tick += timedelta(minutes=step)
    return out


def _legend_symbol(key: str, x: float, y: float) -> str:
    cx, cy = x + 9, y
    return {
        "occ": f'<circle cx="{cx}" cy="{cy}" r="3.6" fill="#000"/>',
        "orig": f'<circle cx="{cx}" cy="{cy}" r="3.6" fill="#fff" stroke="#000" stroke-width="1.2"/>',
        "src": f'<path d="M{cx} {cy - 4} l4 4 l-4 4 l-4 -4 z" fill="#555"/>',
        "rec": f'<rect x="{cx - 3}" y="{cy - 3}" width="6" height="6" fill="#555"/>',
        "late": f'<line x1="{x}" y1="{cy}" x2="{x + 18}" y2="{cy}" stroke="#000" stroke-width="1.1" stroke-dasharray="4 2"/>',
        "wait": f'<rect x="{x}" y="{cy - 4}" width="18" height="8" fill="url(#wait)" stroke="#333" stroke-width="0.7"/>',
        "allowed": f'<rect x="{x}" y="{cy - 5}" width="18" height="10" fill="#fff" stroke="#000" stroke-width="0.8"/>',
        "used": f'<rect x="{x}" y="{cy - 3}" width="18" height="6" fill="#9a9a9a"/>',
        "breach": f'<rect x="{x}" y="{cy - 5}" width="18" height="10" fill="url(#breach)" stroke="#000" stroke-width="0.8"/>',
        "deadline": f'<line x1="{cx}" y1="{cy - 7}" x2="{cx}" y2="{cy + 7}" stroke="#000" stroke-width="1.6"/>',
        "stop": f'<path d="M{cx} {cy - 4} l4.5 7 l-9 0 z" fill="#000"/>',
        "beyond": f'<text x="{cx - 3}" y="{cy + 4}" font-weight="600">»</text>',
    }[key]
