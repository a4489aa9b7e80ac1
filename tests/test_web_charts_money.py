"""The dashboard's money chart: the same colour for the same amount in either language (Vega-Lite
orders a nominal scale by its labels, so blue was "borne by supplier" in English and "losses" in
Chinese), the undetermined value drawn as the table beside it counts it, and legends not cut."""

from __future__ import annotations

from adapters.web.charts import money

ROWS = [{"contract": "K-1", "customer_pays_fen": 10000, "supplier_pays_fen": 20000,
         "losses_supplier_liable_fen": 3000, "undetermined_value_fen": 18500}]


def _color(spec: dict) -> dict:
    return spec["encoding"]["color"]


def test_each_amount_keeps_its_colour_in_both_languages() -> None:
    en, zh = money(ROWS, "en"), money(ROWS, "zh_CN")
    assert _color(en)["scale"]["domain"] == ["customer pays", "borne by supplier (at quoted price)",
                                             "losses the supplier is liable for",
                                             "Payer undetermined (not in either sum)"]
    assert _color(zh)["scale"]["domain"] == ["采购方支付", "供应商承担（按报价）", "供应商应承担的损失",
                                             "付款方未确定（不计入任何一方合计）"]
    assert _color(en)["legend"]["labelLimit"] == 0  # "borne by supplier (at quoted pri…" no more
    drawn = {d["side"]: d["amount"] for d in en["data"]["values"]}
    assert drawn["Payer undetermined (not in either sum)"] == "¥185.00"
