"""The dashboard's charts as Vega-Lite specs, built with Altair from the rows `queries.dashboard`
returned (no number is computed here). The browser draws them with the vega-embed bundle
served from the vl-convert package (`/static/vega-bundle.js`), never from a CDN.

Every mark carries an ARIA description ("clock: response; month: 2025-10; breach rate: 12.5%"),
so screen readers, and the tests, read the numbers off the drawn chart.
"""

from __future__ import annotations

from typing import Any

import altair as alt

from replay.i18n import texts, word

WIDTH = 460


def _spec(chart: alt.Chart | alt.FacetChart | alt.LayerChart, title: str) -> dict[str, Any]:
    spec = chart.properties(title=title).to_dict()
    spec["config"] = {**spec.get("config", {}), "font": "Noto Sans CJK SC, sans-serif",
                      "view": {"stroke": None}, "legend": {"orient": "bottom", "columns": 3}}
    spec.pop("$schema", None)
    return spec


def breach_by_month(rows: list[dict[str, Any]], lang: str) -> dict[str, Any]:
    """Breach rate per month, one line per clock, one panel per final severity."""
    _ = texts(lang)
    data = [{"month": r["month"], "clock": word(lang, "clock", r["clock"]), "severity": word(lang, "severity", r["severity"]),
             "rate": round(float(r["breach_rate"]), 4), "breached": r["breached"], "applicable": r["applicable"]}
            for r in rows if r["breach_rate"] is not None]
    base = alt.Chart(alt.Data(values=data)).mark_line(point=True).encode(
        x=alt.X("month:O", title=_("month")),
        y=alt.Y("rate:Q", title=_("breach rate"), axis=alt.Axis(format=".1%")),
        color=alt.Color("clock:N", title=_("clock")),
        tooltip=[alt.Tooltip("clock:N", title=_("clock")), alt.Tooltip("month:O", title=_("month")),
                 alt.Tooltip("rate:Q", title=_("breach rate"), format=".1%"),
                 alt.Tooltip("breached:Q", title=_("breached")), alt.Tooltip("applicable:Q", title=_("applicable"))],
    ).properties(width=WIDTH // 2, height=180)
    return _spec(base.facet(facet=alt.Facet("severity:N", title=_("severity")), columns=2),
                 _("Breach rate per clock and severity, by month"))


def breach_by(rows: list[dict[str, Any]], key: str, lang: str, title: str) -> dict[str, Any]:
    """Breach rate per customer (or site), one bar per clock."""
    _ = texts(lang)
    data = [{key: r[key], "clock": word(lang, "clock", r["clock"]), "rate": round(float(r["breach_rate"]), 4),
             "breached": r["breached"], "applicable": r["applicable"]}
            for r in rows if r["breach_rate"] is not None]
    chart = alt.Chart(alt.Data(values=data)).mark_bar().encode(
        y=alt.Y(f"{key}:N", title=_(key)),
        yOffset=alt.YOffset("clock:N"),
        x=alt.X("rate:Q", title=_("breach rate"), axis=alt.Axis(format=".1%")),
        color=alt.Color("clock:N", title=_("clock")),
        tooltip=[alt.Tooltip(f"{key}:N", title=_(key)), alt.Tooltip("clock:N", title=_("clock")),
                 alt.Tooltip("rate:Q", title=_("breach rate"), format=".1%"),
                 alt.Tooltip("breached:Q", title=_("breached")), alt.Tooltip("applicable:Q", title=_("applicable"))],
    ).properties(width=WIDTH)
    return _spec(chart, title)


def visits(rows: list[dict[str, Any]], lang: str) -> dict[str, Any]:
    """Visit periods ending each month: done, due and missed."""
    _ = texts(lang)
    data = [{"month": r["month"], "status": word(lang, "visit_status", r["status"]), "periods": r["periods"]}
            for r in rows]
    chart = alt.Chart(alt.Data(values=data)).mark_bar().encode(
        # by the month a period ends: a statement counts every period overlapping its month instead
        x=alt.X("month:O", title=_("month the period ends")),
        y=alt.Y("periods:Q", title=_("visit periods")),
        color=alt.Color("status:N", title=_("status")),
        tooltip=[alt.Tooltip("month:O", title=_("month the period ends")), alt.Tooltip("status:N", title=_("status")),
                 alt.Tooltip("periods:Q", title=_("visit periods"))],
    ).properties(width=WIDTH, height=200)
    return _spec(chart, _("Visit periods done, due and missed, by the month they end"))


def money(rows: list[dict[str, Any]], lang: str) -> dict[str, Any]:
    """What each side owes per contract, in yuan."""
    _ = texts(lang)
    sides = (("customer_pays_fen", _("customer pays")), ("supplier_pays_fen", _("borne by supplier (at quoted price)")),
             ("losses_supplier_liable_fen", _("losses the supplier is liable for")),
             ("undetermined_value_fen", _("Payer undetermined (not in either sum)")))
    data = [{"contract": r["contract"], "side": label, "yuan": round((r.get(col) or 0) / 100, 2),
             "amount": _.money(r.get(col) or 0)}
            for r in rows for col, label in sides]
    order = [label for _col, label in sides]  # the same colour for the same amount in every language
    chart = alt.Chart(alt.Data(values=data)).mark_bar().encode(
        y=alt.Y("contract:N", title=_("contract")),
        yOffset=alt.YOffset("side:N", sort=order),
        x=alt.X("yuan:Q", title=_("amount (¥)")),
        color=alt.Color("side:N", title=_("amount"), sort=order, scale=alt.Scale(domain=order),
                        legend=alt.Legend(labelLimit=0)),
        tooltip=[alt.Tooltip("contract:N", title=_("contract")), alt.Tooltip("side:N", title=_("who pays")),
                 alt.Tooltip("amount:N", title=_("amount"))],
    ).properties(width=WIDTH)
    return _spec(chart, _("What each side pays or bears, per contract"))
