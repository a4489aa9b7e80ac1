"""How ticketledger writes to people: Simplified Chinese and English, yuan, local time.

One home for every word, amount, time and duration a person reads (reports, statements,
the console, the CLI's human output). Programs read JSON and SQL, which keep integer fen and
UTC instants; nothing here is used for them.

- Languages: `zh_CN` (the default for contracts in China's time zone) and `en`. Messages are
  written in English in the code, marked with `_()`/`N_()`/`NP_()`, and translated through the
  gettext catalog `replay/locale/zh_CN/LC_MESSAGES/ticketledger.po` (Babel). `make i18n`
  re-extracts the template and merges it into the catalog; a test fails when a marked
  message has no Chinese translation.
- Amounts: integer fen written as yuan, `¥1,130.00`, in both languages.
- Times: instants in the contract's time zone, named once (`中国标准时间`, `China Standard
  Time`). A period's end at local midnight is written as the last day's `24:00`, never as the
  next day's `00:00` (Civil Code art. 203 counts the last day to its end).
"""

from __future__ import annotations

import functools
import gettext
import io
import os
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import get_day_names, get_timezone_name
from babel.lists import format_list
from babel.numbers import format_decimal
from babel.support import Translations

LANGS = ("zh_CN", "en")
DEFAULT_LANG = "en"  # where neither a contract nor the system names Chinese
DEFAULT_TZ = "Asia/Shanghai"
DOMAIN = "ticketledger"
LOCALE_DIR = Path(__file__).parent / "locale"

# Zones whose contracts are read in Chinese unless told otherwise (the PRC's one civil time)
CHINA_ZONES = frozenset({"Asia/Shanghai", "Asia/Chongqing", "Asia/Chungking", "Asia/Harbin",
                         "Asia/Urumqi", "Asia/Kashgar", "PRC"})


def N_(message: str) -> str:  # noqa: N802 - the gettext convention
    """Mark a message for the catalog where it is defined; translated where it is shown."""
    return message


def NP_(context: str, message: str) -> tuple[str, str]:  # noqa: N802
    """Mark a message with a context (pgettext), e.g. NP_("clock", "response")."""
    return context, message


# --- which language ----------------------------------------------------------------------------


def normalise_lang(text: str) -> str:
    """`zh`, `zh-CN`, `zh_CN.UTF-8`, `en_US` … as one of LANGS; ValueError for others."""
    code = text.strip().split(".")[0].replace("-", "_")
    if code.lower().startswith("zh"):
        return "zh_CN"
    if code.lower().startswith("en") or code in ("C", "POSIX"):
        return "en"
    raise ValueError(f"language {text!r} is not one ticketledger writes; use zh_CN or en")


def system_lang(environ: Mapping[str, str] | None = None) -> str:
    """The language of the user's locale settings (LC_ALL, LC_MESSAGES, LANG), else English."""
    env = os.environ if environ is None else environ
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = env.get(name)
        if value:
            try:
                return normalise_lang(value)
            except ValueError:
                return DEFAULT_LANG
    return DEFAULT_LANG


def resolve_lang(requested: str | None = None, *, timezone: str | None = None,
                 environ: Mapping[str, str] | None = None) -> str:
    """The language to write in: the one asked for (`--lang`), else the contract's (Chinese for
    a contract in China's time zone), else the system locale's."""
    if requested:
        return normalise_lang(requested)
    if timezone is not None:
        return "zh_CN" if timezone in CHINA_ZONES else system_lang(environ)
    return system_lang(environ)


# --- the catalog ---------------------------------------------------------------------------


@functools.cache
def _translations(lang: str) -> gettext.NullTranslations:
    """The catalog of `lang`, compiled from its .po (no binary .mo in the repo)."""
    po = LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po"
    if lang == "en" or not po.exists():
        return gettext.NullTranslations()
    return Translations(io.BytesIO(_compiled(po, lang)), domain=DOMAIN)


def _compiled(po: Path, lang: str) -> bytes:
    """`po` compiled to .mo bytes, kept beside it in __pycache__ as Python keeps its .pyc, under
    the .po's size and modification time (an edited .po is compiled anew): babel's parse of the
    .po took ~20 ms of every report written in Chinese, reading the compiled bytes ~2 ms. Where
    the folder cannot be written, the .po is compiled in memory each time, as before."""
    st = po.stat()
    cache = po.parent / "__pycache__" / f"{po.stem}.{st.st_size}-{st.st_mtime_ns}.mo"
    try:
        return cache.read_bytes()
    except OSError:
        pass
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    with po.open("rb") as f:
        catalog = read_po(f, locale=lang, domain=DOMAIN)
    mo = io.BytesIO()
    write_mo(mo, catalog, use_fuzzy=False)
    try:  # written aside, then renamed: a reader never sees half a file
        cache.parent.mkdir(exist_ok=True)
        for old in cache.parent.glob(f"{po.stem}.*.mo"):  # an earlier .po's
            old.unlink(missing_ok=True)
        aside = cache.with_name(f"{cache.name}.{os.getpid()}.tmp")
        aside.write_bytes(mo.getvalue())
        os.replace(aside, cache)
    except OSError:
        pass
    return mo.getvalue()


class Texts:
    """Everything written to a person in one language."""

    def __init__(self, lang: str) -> None:
        self.lang = normalise_lang(lang)
        self.locale = Locale.parse(self.lang)
        self._t = _translations(self.lang)

    @property
    def catalog(self) -> gettext.NullTranslations:
        """The gettext catalog itself, for messages that fill their own fields (argparse's)."""
        return self._t

    @property
    def html_lang(self) -> str:
        """The value of an HTML `lang` attribute (BCP 47)."""
        return "zh-CN" if self.lang == "zh_CN" else "en"

    # words

    def __call__(self, message: str, /, **params: object) -> str:
        """The message in this language, with `{name}` fields filled from `params`."""
        text = self._t.gettext(message)
        if not params:
            return text
        if self.lang == "zh_CN":
            text = self._tight(text, params)
        return text.format(**params)

    def _tight(self, template: str, params: dict[str, object]) -> str:
        """Chinese sets no space between two Chinese characters: `超时不足 1 分钟`, where a template
        spaces a field from the word before it for a number (`超时 {duration}` → `超时 26 小时`)."""
        under = self._t.gettext(UNDER_A_MINUTE)
        for name, value in params.items():
            field = r"(\{" + name + r"\})"
            if value == under:
                template = re.sub(r"([\u4e00-\u9fff]) " + field, r"\1\2", template)
            elif isinstance(value, str) and value.endswith(FULL_WIDTH_CLOSING):
                # `于 {recorded} 记录` with `… 14:49（来源服务台）`: no space after the bracket
                template = re.sub(field + r" (?=[\u4e00-\u9fff])", r"\1", template)
        return template

    def plural(self, singular: str, plural: str, n: int, /, **params: object) -> str:
        text = self._t.ngettext(singular, plural, n)
        return text.format(n=self.number(n), **params)

    def plural_form(self, singular: str, plural: str, n: int, /) -> str:
        """The form for `n`, not yet filled in (a page's script fills it: `{n} clock` / `{n} clocks`)."""
        return self._t.ngettext(singular, plural, n)

    def word(self, marked: tuple[str, str] | str, /) -> str:
        """A vocabulary word marked with NP_(context, message) (or a plain N_ message)."""
        if isinstance(marked, tuple):
            context, message = marked
            return self._t.pgettext(context, message)
        return self._t.gettext(marked)

    # numbers and money

    def number(self, value: float | int | Decimal, decimals: int = 0) -> str:
        pattern = "#,##0" + ("." + "0" * decimals if decimals else "")
        return format_decimal(value, format=pattern, locale=self.locale)

    def separated(self, items: Iterable[str]) -> str:
        """Items set apart by the language's semicolon: `a; b` / `a；b`."""
        return self(_("; ")).join(items)

    def listing(self, items: Iterable[str]) -> str:
        """Items as a list in the reader's language: `a, b, and c` / `a、b和c` (CLDR's, via babel)."""
        return format_list(list(items), locale=self.locale)

    def tally(self, counts: Iterable[tuple[str, int]]) -> str:
        """Counts of named things: `breached 1,975, met 7,864` / `已超时 1,975 个、达标 7,864 个`
        (each count with its measure word; no `和` before the last, which ran into its number)."""
        return self(TALLY_SEPARATOR).join(self(TALLY_ITEM, what=what, n=self.number(n)) for what, n in counts)

    @staticmethod
    def sentences(*parts: str) -> str:
        """Sentences one after another: a space between them, none after a full-width stop (`。`)."""
        out = ""
        for part in parts:
            out += part if not out or out.endswith(("。", "！", "？", "；")) else " " + part
        return out

    def money(self, fen: int | None) -> str:
        """Integer fen as yuan: ¥1,130.00 (negative: -¥12.00); empty for None."""
        if fen is None:
            return ""
        yuan = (Decimal(int(fen)) / 100).quantize(Decimal("0.01"), ROUND_HALF_UP)
        sign = "-" if yuan < 0 else ""
        return f"{sign}¥{format_decimal(abs(yuan), format='#,##0.00', locale=self.locale)}"

    def yes_no(self, value: bool) -> str:
        """A flag as a word: yes / no (是 / 否)."""
        return self(YES) if value else self(NO)

    def percent(self, share: float | None, decimals: int = 1) -> str:
        if share is None:
            return ""
        return self.number(Decimal(str(share * 100)), decimals) + "%"

    # durations

    def duration(self, minutes: float | int | None, *, days: bool = True) -> str:
        """Whole minutes as `5 h 42 min` / `5 小时 42 分钟` (rounded half up; `24 h`, no `0 min`); from
        two days on the days beside the hours, `187 h 49 min (7 d 19 h 49 min)`: a contract counts
        in hours, the arbitrator recomputes the hours, a person reads the days. A duration that
        rounds to none but is not none is `under 1 min` (a breach of 20 s is a breach, not "0 min")."""
        if minutes is None:
            return ""
        total = int(Decimal(str(abs(minutes))).quantize(Decimal(1), ROUND_HALF_UP))
        if total == 0 and minutes:
            return self(UNDER_A_MINUTE)
        sign = "-" if minutes < 0 and total else ""  # on both forms: a table's column has no words for it
        text = sign + self._hours_minutes(total)
        if days and total >= DAYS_FROM_MINUTES:  # days=False: a table's short addition (`+ 63 h 2 min`)
            text = self(HOURS_AND_DAYS, hours=text, days=sign + self._days_hours_minutes(total))
        return text

    def countdown(self, seconds: int | None) -> str:
        """Time left on a running clock as the console's queue counts it down each second:
        `mm:ss` under an hour, so the last minutes are seen to pass (whole minutes showed "0 min"
        with seconds still left), `5 h 42 min` above it (minutes cut, not rounded: never more
        time than is left), `2 d 0 h 12 min` from two days, `9 d 3 h` from a week; past the deadline `overdue …` the same way. The queue's script
        (adapters/web/static/queue.js) writes the same."""
        if seconds is None:
            return ""
        s = abs(int(seconds))
        if s < 3600:
            text = f"{s // 60:02d}:{s % 60:02d}"
        elif s < DAYS_FROM_MINUTES * 60:
            text = self._whole_minutes(s // 60)
        elif s < COUNTDOWN_MINUTES_UNTIL:  # "2 d 0 h" for three deadlines an hour apart told none apart
            text = self(DAYS_HOURS_MINUTES, d=self.number(s // 86400), h=s % 86400 // 3600, m=s % 3600 // 60)
        else:  # "overdue 9,991 h" reads as a number: days and hours from two days on
            text = self("{d} d {h} h", d=self.number(s // 86400), h=s % 86400 // 3600)
        return self(OVERDUE, d=text) if seconds < 0 else text

    # kept: the console's queue writes 500 a page, and babel's number formatting is most of it
    # (Texts are one per language for the process, `texts`)
    @functools.lru_cache(maxsize=8192)  # noqa: B019
    def _whole_minutes(self, total: int) -> str:
        h, m = divmod(total, 60)
        if h:
            return self("{h} h {m} min", h=self.number(h), m=m)
        return self("{m} min", m=m)

    def _hours_minutes(self, total: int) -> str:
        """`24 h`, not `24 h 0 min` (a countdown keeps its minutes: they tick)."""
        h, m = divmod(total, 60)
        return self(HOURS, h=self.number(h)) if h and not m else self._whole_minutes(total)

    def _days_hours_minutes(self, total: int) -> str:
        d, rest = divmod(total, 1440)
        h, m = divmod(rest, 60)
        if h and m:
            return self(DAYS_HOURS_MINUTES, d=self.number(d), h=h, m=m)
        if m:  # no `0 h` between the days and the minutes, as the hours form has no `0 min`
            return self(DAYS_MINUTES, d=self.number(d), m=m)
        return self("{d} d {h} h", d=self.number(d), h=h) if h else self(DAYS, d=self.number(d))

    def period(self, amount: int | float | None, unit: str | None) -> str:
        """A contract's period as written in its terms: `36 hours`, `3 working days` / `36 小时`,
        `3 个工作日` (unit: minutes, hours, days, working_days, weeks, months, years)."""
        if amount is None or not unit:
            return ""
        n = int(amount)
        forms = PERIOD_FORMS.get(unit)
        return self.plural(*forms, n) if forms else f"{self.number(n)} {unit}"

    # times

    def zone_name(self, tz: str) -> str:
        """The zone's name for people: 北京时间 / Beijing time for China's one civil time, the
        CLDR name otherwise (中欧时间 / Central European Time), else the IANA id."""
        if tz in CHINA_ZONES:
            return self(BEIJING_TIME)
        if tz in ("UTC", "Etc/UTC", "Etc/UCT", "UCT", "Zulu"):
            return "UTC"  # CLDR has no name for it ("Unknown Region (UTC) Time")
        if tz.startswith("Etc/GMT"):
            # POSIX signs: Etc/GMT+3 is three hours *behind* UTC, which CLDR writes as
            # "Unknown Region (GMT+3) Time"; a reader converting by that label is 6 h off
            offset = ZoneInfo(tz).utcoffset(datetime(2000, 1, 1))
            minutes = int(offset.total_seconds() // 60) if offset is not None else 0
            sign = "+" if minutes >= 0 else "−"
            return f"UTC{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"
        try:
            name = get_timezone_name(ZoneInfo(tz), "long", locale=self.locale)
        except (LookupError, ValueError):
            return tz
        return name or tz

    def weekdays(self) -> list[str]:
        """The days' short names, Monday first: 周一 … 周日 / Mon … Sun."""
        names = get_day_names("abbreviated", locale=self.locale)
        return [names[i] for i in range(7)]

    def time(self, instant: datetime | str | None, tz: str = DEFAULT_TZ, *, zone: bool = False,
             seconds: bool = False, weekday: bool = False) -> str:
        """An instant as local wall time, `2025-06-19 11:59` (with the zone's name if asked; with
        the weekday, `2025-06-19 周四 11:59`, for the console, where 调休 and holidays move days)."""
        local = to_local(instant, tz)
        if local is None:
            return ""
        day = f"%Y-%m-%d {self.weekdays()[local.weekday()]}" if weekday else "%Y-%m-%d"
        text = local.strftime(f"{day} %H:%M:%S" if seconds else f"{day} %H:%M")
        return f"{text} {self.zone_name(tz)}" if zone else text

    def end(self, instant: datetime | str | None, tz: str = DEFAULT_TZ, *, zone: bool = False,
            weekday: bool = False, seconds: bool = False) -> str:
        """The end of a period: local midnight written as the last day's 24:00 (art. 203); with
        the weekday (the console), that last day's; with seconds, `24:00:00`."""
        local = to_local(instant, tz)
        if local is None:
            return ""
        if local.time() == time(0, 0):
            last = local - timedelta(days=1)
            name = f" {self.weekdays()[last.weekday()]}" if weekday else ""
            text = f"{last.strftime('%Y-%m-%d')}{name} 24:00" + (":00" if seconds else "")
        else:
            name = f" {self.weekdays()[local.weekday()]}" if weekday else ""
            text = local.strftime(f"%Y-%m-%d{name} %H:%M" + (":%S" if seconds else ""))
        return f"{text} {self.zone_name(tz)}" if zone else text

    def date(self, day: date | str | None) -> str:
        if day is None or day == "":
            return ""
        if isinstance(day, str):
            day = date.fromisoformat(day[:10])
        return day.isoformat()


@functools.cache
def texts(lang: str) -> Texts:
    """The texts of one language (cached: catalogs are read once per process)."""
    return Texts(lang)


def to_local(instant: datetime | str | None, tz: str) -> datetime | None:
    """A UTC instant (aware, naive UTC as DuckDB returns it, or ISO text with Z) in `tz`."""
    if instant is None or instant == "":
        return None
    if isinstance(instant, str):
        instant = datetime.fromisoformat(instant.replace("Z", "+00:00"))
    if instant.tzinfo is None:
        instant = instant.replace(tzinfo=UTC)
    return instant.astimezone(ZoneInfo(tz))


# --- the vocabulary: codes of the views as words ------------------------------------------------
# msgid = the English word; the context keeps equal English words of different vocabularies apart.

VOCABULARY: dict[str, dict[str, tuple[str, str]]] = {
    "clock": {
        "response": NP_("clock", "response"),
        "remote_resolution": NP_("clock", "remote resolution"),
        "arrival": NP_("clock", "on-site arrival"),
        "resolution": NP_("clock", "resolution"),
        "spare": NP_("clock", "spare unit"),
    },
    "state": {
        "met": NP_("state", "met"),
        "breached": NP_("state", "breached"),
        "running": NP_("state", "running"),
        "at_risk": NP_("state", "at risk"),
        "not_applicable": NP_("state", "not applicable"),
    },
    "coverage": {
        "pre_acceptance": NP_("coverage", "before acceptance"),
        "warranty": NP_("coverage", "in warranty"),
        "paid": NP_("coverage", "paid maintenance period"),
        "out": NP_("coverage", "out of coverage"),
        "unknown": NP_("coverage", "unknown"),
    },
    "payer": {
        "supplier": NP_("payer", "supplier"),
        "customer": NP_("payer", "customer"),
        "undetermined": NP_("payer", "undetermined"),
        "none": NP_("payer", "nothing to pay"),
    },
    "rate": {
        "free": NP_("rate", "free of charge"),
        "cost": NP_("rate", "at cost"),
        "half": NP_("rate", "half price"),
        "full": NP_("rate", "full price"),
        "market": NP_("rate", "market price"),
    },
    "cause": {
        "quality": NP_("cause", "quality fault"),
        "human": NP_("cause", "human damage"),
        "environment": NP_("cause", "environment"),
        "installation_workmanship": NP_("cause", "installation workmanship"),
        "natural_disaster": NP_("cause", "natural disaster"),
        "force_majeure": NP_("cause", "force majeure"),
        "lightning": NP_("cause", "lightning"),
        "third_party": NP_("cause", "third party"),
        "third_party_deliberate": NP_("cause", "deliberate third-party damage"),
        "unknown": NP_("cause", "not determined"),
    },
    "wait": {
        "customer": NP_("wait", "waiting for the customer"),
        "site_not_accessible": NP_("wait", "site not accessible"),
        "user": NP_("wait", "waiting for the user"),
        "vendor": NP_("wait", "waiting for a vendor"),
        "parts": NP_("wait", "waiting for parts"),
        "other": NP_("wait", "other"),
    },
    "failure_kind": {  # repeat_failures.kind (§9.9)
        "repair_not_fixed": NP_("failure_kind", "a repair that did not fix the fault"),
        "resolution_reopened": NP_("failure_kind", "a resolution that was reopened"),
        "new_report_within_window": NP_("failure_kind", "a new report of the same fault within the repeat window"),
    },
    "visit_status": {
        "done": NP_("visit_status", "done"),
        "due": NP_("visit_status", "due"),
        "missed": NP_("visit_status", "missed"),
        "upcoming": NP_("visit_status", "upcoming"),
    },
    "visit_kind": {
        "phone": NP_("visit_kind", "phone call"),
        "onsite": NP_("visit_kind", "on-site visit"),
    },
    "obligation": {
        "follow_up": NP_("obligation", "follow-up"),
        "inspection": NP_("obligation", "inspection"),
    },
    "severity": {
        "urgent": NP_("severity", "urgent"),
        "severe": NP_("severity", "severe"),
        "technical_help": NP_("severity", "technical help needed"),
        "normal": NP_("severity", "normal"),
        "general": NP_("severity", "general"),
        "major": NP_("severity", "major"),
        "critical": NP_("severity", "critical"),
        "high": NP_("severity", "high"),
        "moderate": NP_("severity", "moderate"),
        "medium": NP_("severity", "medium"),
        "low": NP_("severity", "low"),
    },
    "dimension": {  # what sla_summary groups by
        "contract": NP_("dimension", "contract"),
        "customer": NP_("dimension", "customer"),
        "month": NP_("dimension", "month"),
        "severity": NP_("dimension", "severity"),
        "site": NP_("dimension", "site"),
        "technician": NP_("dimension", "technician"),
    },
    "field": {  # a fact's fields as the dispute report lists them
        "technician": NP_("field", "technician"),
        "notes": NP_("field", "notes"),
        "description": NP_("field", "description"),
        "summary": NP_("field", "summary"),
        "reason": NP_("field", "reason"),
        "severity": NP_("field", "severity"),
        "fault_category": NP_("field", "fault category"),
        "asset_id": NP_("field", "asset"),
        "asset_down": NP_("field", "asset down"),
        "site": NP_("field", "site"),
        "contract_id": NP_("field", "contract"),
        "reporter_ref": NP_("field", "reporter reference"),
        "spare_serial": NP_("field", "spare unit serial"),
        "consented_by": NP_("field", "consented by"),
        "clock": NP_("field", "clock"),
        "add_minutes": NP_("field", "added time"),
        "fixed": NP_("field", "fixed"),
        "parts": NP_("field", "parts"),
        "labour_fen": NP_("field", "labour"),
        "amount_fen": NP_("field", "amount"),
        "cause": NP_("field", "cause"),
        "filename": NP_("field", "file"),
        "media_type": NP_("field", "media type"),
        "size": NP_("field", "size"),
        "sha256": NP_("field", "SHA-256"),
        "satisfaction": NP_("field", "satisfaction"),
        "occurred_at": NP_("field", "occurred"),
        "serial": NP_("field", "serial number"),
        "model": NP_("field", "model"),
        "asset_type": NP_("field", "asset type"),
        "by_asset": NP_("field", "replaced by"),
        "customer_id": NP_("field", "customer"),
        "placeholder": NP_("field", "placeholder"),
        "replaces": NP_("field", "replaces"),
        "assignee": NP_("field", "assignee"),
        "kind": NP_("field", "kind"),
        "scope": NP_("field", "scope"),
        "report_ref": NP_("field", "report reference"),
        "corrects_version": NP_("field", "corrects version"),
        "changes": NP_("field", "changes"),
    },
    "fault_category": {  # the categories the seeds and the demo record; others are shown as recorded
        "software": NP_("fault_category", "software fault"),
        "no_output": NP_("fault_category", "no output"),
        "focus": NP_("fault_category", "focus fault"),
        "no_image": NP_("fault_category", "no image"),
        "calibration": NP_("fault_category", "calibration fault"),
        "port_down": NP_("fault_category", "port down"),
        "memory": NP_("fault_category", "memory fault"),
        "boot": NP_("fault_category", "fails to boot"),
        "dead_pixels": NP_("fault_category", "dead pixels"),
        "no_display": NP_("fault_category", "no display"),
        "no_recording": NP_("fault_category", "not recording"),
        "power": NP_("fault_category", "power fault"),
        "no_power": NP_("fault_category", "no power"),
        "disk_failure": NP_("fault_category", "disk failure"),
        "battery": NP_("fault_category", "battery fault"),
        "sensor": NP_("fault_category", "sensor fault"),
        "network": NP_("fault_category", "network fault"),
        "alarm": NP_("fault_category", "alarm fault"),
        "config": NP_("fault_category", "configuration fault"),
        "display": NP_("fault_category", "display fault"),
    },
    "asset_type": {
        "server": NP_("asset_type", "server"),
        "recorder": NP_("asset_type", "recorder"),
        "analyser": NP_("asset_type", "analyser"),
        "camera": NP_("asset_type", "camera"),
        "ups": NP_("asset_type", "UPS"),
        "switch": NP_("asset_type", "network switch"),
        "display": NP_("asset_type", "display"),
        "workstation": NP_("asset_type", "workstation"),
    },
    "ticket_status": {
        "new": NP_("ticket_status", "new"),
        "open": NP_("ticket_status", "open"),
        "resolved": NP_("ticket_status", "resolved"),
        "closed": NP_("ticket_status", "closed"),
        "cancelled": NP_("ticket_status", "cancelled"),
    },
    "change": {
        "changed": NP_("change", "changed"),
        "only_in_a": NP_("change", "only in A"),
        "only_in_b": NP_("change", "only in B"),
    },
    # event types as the dispute report names them to people, in English too (the "fact" words
    # below keep the type's own name for English readers of the CLI and the stream)
    "event": {
        "AssetAccepted": NP_("event", "asset accepted"),
        "AssetContractChanged": NP_("event", "asset's contract changed"),
        "AssetDecommissioned": NP_("event", "asset decommissioned"),
        "AssetDelivered": NP_("event", "asset delivered"),
        "AssetInstalled": NP_("event", "asset installed"),
        "AssetMoved": NP_("event", "asset moved"),
        "AssetRegistered": NP_("event", "asset registered"),
        "AssetReplaced": NP_("event", "asset replaced"),
        "CalendarYearRecorded": NP_("event", "calendar year recorded"),
        "ContractAmended": NP_("event", "contract amended"),
        "ContractRegistered": NP_("event", "contract registered"),
        "CustomerSignedOff": NP_("event", "customer signed off"),
        "DeadlineExtended": NP_("event", "deadline extended with consent"),
        "EvidenceAttached": NP_("event", "evidence attached"),
        "FactCorrected": NP_("event", "fact corrected"),
        "FaultCauseDetermined": NP_("event", "fault cause determined"),
        "FollowUpDone": NP_("event", "follow-up done"),
        "InspectionDone": NP_("event", "inspection done"),
        "LossClaimed": NP_("event", "losses claimed"),
        "RemoteFixAttempted": NP_("event", "remote fix attempted"),
        "RepairAttempted": NP_("event", "repair attempted"),
        "SeverityChanged": NP_("event", "severity changed"),
        "SolutionPlanProposed": NP_("event", "solution plan proposed"),
        "SpareUnitLent": NP_("event", "spare unit lent"),
        "SpareUnitReturned": NP_("event", "spare unit returned"),
        "TechnicianArrived": NP_("event", "technician arrived"),
        "TechnicianDispatched": NP_("event", "technician dispatched"),
        "TicketAcknowledged": NP_("event", "ticket acknowledged"),
        "TicketCancelled": NP_("event", "ticket cancelled"),
        "TicketClosed": NP_("event", "ticket closed"),
        "TicketOpened": NP_("event", "fault reported"),
        "TicketReassigned": NP_("event", "ticket reassigned"),
        "TicketReopened": NP_("event", "ticket reopened"),
        "TicketResolved": NP_("event", "ticket resolved"),
        "WaitEnded": NP_("event", "wait ended"),
        "WaitStarted": NP_("event", "wait started"),
    },
    # event types: English readers see the type's own name (as in JSON, the stream and the docs)
    "fact": {
        "AssetAccepted": NP_("fact", "AssetAccepted"),
        "AssetContractChanged": NP_("fact", "AssetContractChanged"),
        "AssetDecommissioned": NP_("fact", "AssetDecommissioned"),
        "AssetDelivered": NP_("fact", "AssetDelivered"),
        "AssetInstalled": NP_("fact", "AssetInstalled"),
        "AssetMoved": NP_("fact", "AssetMoved"),
        "AssetRegistered": NP_("fact", "AssetRegistered"),
        "AssetReplaced": NP_("fact", "AssetReplaced"),
        "CalendarYearRecorded": NP_("fact", "CalendarYearRecorded"),
        "ContractAmended": NP_("fact", "ContractAmended"),
        "ContractRegistered": NP_("fact", "ContractRegistered"),
        "CustomerSignedOff": NP_("fact", "CustomerSignedOff"),
        "DeadlineExtended": NP_("fact", "DeadlineExtended"),
        "EvidenceAttached": NP_("fact", "EvidenceAttached"),
        "FactCorrected": NP_("fact", "FactCorrected"),
        "FaultCauseDetermined": NP_("fact", "FaultCauseDetermined"),
        "FollowUpDone": NP_("fact", "FollowUpDone"),
        "InspectionDone": NP_("fact", "InspectionDone"),
        "LossClaimed": NP_("fact", "LossClaimed"),
        "RemoteFixAttempted": NP_("fact", "RemoteFixAttempted"),
        "RepairAttempted": NP_("fact", "RepairAttempted"),
        "SeverityChanged": NP_("fact", "SeverityChanged"),
        "SolutionPlanProposed": NP_("fact", "SolutionPlanProposed"),
        "SpareUnitLent": NP_("fact", "SpareUnitLent"),
        "SpareUnitReturned": NP_("fact", "SpareUnitReturned"),
        "TechnicianArrived": NP_("fact", "TechnicianArrived"),
        "TechnicianDispatched": NP_("fact", "TechnicianDispatched"),
        "TicketAcknowledged": NP_("fact", "TicketAcknowledged"),
        "TicketCancelled": NP_("fact", "TicketCancelled"),
        "TicketClosed": NP_("fact", "TicketClosed"),
        "TicketOpened": NP_("fact", "TicketOpened"),
        "TicketReassigned": NP_("fact", "TicketReassigned"),
        "TicketReopened": NP_("fact", "TicketReopened"),
        "TicketResolved": NP_("fact", "TicketResolved"),
        "WaitEnded": NP_("fact", "WaitEnded"),
        "WaitStarted": NP_("fact", "WaitStarted"),
    },
}


def word(lang: str, vocabulary: str, code: str | None) -> str:
    """A code of the views (`clock`/`response`, `state`/`at_risk`, …) as a word of `lang`;
    a code the vocabulary does not know is shown as it is."""
    if code is None:
        return ""
    marked = VOCABULARY.get(vocabulary, {}).get(code)
    return texts(lang).word(marked) if marked else code


def recorded_word(lang: str, vocabulary: str, code: str | None) -> str:
    """A code of an open vocabulary (fault categories, asset types: any name a desk records) as a
    word of `lang`; a code the vocabulary does not know is shown marked as the recorded value."""
    if not code:
        return ""
    marked = VOCABULARY.get(vocabulary, {}).get(code)
    return texts(lang).word(marked) if marked else texts(lang)(AS_RECORDED, value=code)


def _(message: str) -> str:
    """Marks messages for extraction in this module only (the catalog reads the call sites)."""
    return message


BEIJING_TIME = _("Beijing time")
AS_RECORDED = _("“{value}” (as recorded)")
OVERDUE = _("overdue {d}")
UNDER_A_MINUTE = _("under 1 min")
FULL_WIDTH_CLOSING = ("）", "”", "」", "》", "】")  # a field ending so needs no space after it in Chinese
TALLY_ITEM = _("{what} {n}")
TALLY_SEPARATOR = _(", ")
# durations (Texts.duration): from two days on the days are said beside the hours, as the console's
# overdue clocks count in days from two days on (Texts.countdown): one threshold for both
DAYS_FROM_MINUTES = 2 * 24 * 60
COUNTDOWN_MINUTES_UNTIL = 7 * 86400  # seconds: a countdown keeps its minutes below a week
HOURS = _("{h} h")
HOURS_AND_DAYS = _("{hours} ({days})")
DAYS_HOURS_MINUTES = _("{d} d {h} h {m} min")
DAYS_MINUTES = _("{d} d {m} min")
DAYS = _("{d} d")
YES, NO = _("yes"), _("no")

# A contract's period units (Texts.period), singular and plural as the catalog holds them
def plural(singular: str, plural_: str) -> tuple[str, str]:
    """Marks a singular/plural pair for the catalog (ngettext), translated by Texts.plural."""
    return singular, plural_


PERIOD_FORMS: dict[str, tuple[str, str]] = {
    "minutes": plural("{n} minute", "{n} minutes"),
    "hours": plural("{n} hour", "{n} hours"),
    "days": plural("{n} day", "{n} days"),
    "working_days": plural("{n} working day", "{n} working days"),
    "weeks": plural("{n} week", "{n} weeks"),
    "months": plural("{n} month", "{n} months"),
    "years": plural("{n} year", "{n} years"),
}

# The duration formats above are written through __call__; marked here for the catalog.
_MARKED = (_("{h} h {m} min"), _("{m} min"))
