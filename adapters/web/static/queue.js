// The live queue: counts every clock down each second from the views' deadline, stands still
// while a pausing wait is open, and follows the follower's alerts (server-sent events) without
// a reload. Text goes into the page through textContent only.
(function () {
  "use strict";
  const table = document.getElementById("queue");
  if (!table) return;
  const words = JSON.parse(document.getElementById("words").textContent);
  const body = table.tBodies[0];
  const skew = Number(table.dataset.now) - Date.now(); // server time minus this browser's
  const frozen = table.dataset.frozen === "yes";
  const filters = JSON.parse(table.dataset.filters || "{}");
  const nowMs = () => (frozen ? Number(table.dataset.now) : Date.now() + skew);

  function fmt(template, values) {
    return template.replace(/\{(\w+)\}/g, (_, k) => String(values[k]));
  }
  // as the server writes it (replay/i18n.py Texts.countdown): mm:ss under an hour, h and whole
  // minutes (cut, not rounded) under two days, days, hours and minutes under a week, days and hours above; whole seconds counted down
  function duration(ms) {
    const seconds = Math.floor(ms / 1000);
    const s = Math.abs(seconds);
    const two = (n) => String(n).padStart(2, "0");
    const text = s < 3600 ? two(Math.floor(s / 60)) + ":" + two(s % 60)
      : s < 2 * 86400 ? fmt(words.h, { h: Math.floor(s / 3600).toLocaleString(words.lang), m: Math.floor(s / 60) % 60 })
      : s < 7 * 86400 ? fmt(words.dhm, { d: Math.floor(s / 86400).toLocaleString(words.lang), h: Math.floor(s / 3600) % 24, m: Math.floor(s / 60) % 60 })
      : fmt(words.dh, { d: Math.floor(s / 86400).toLocaleString(words.lang), h: Math.floor(s / 3600) % 24 });
    return seconds < 0 ? fmt(words.overdue, { d: text }) : text;
  }
  function left(row) {
    const deadline = Number(row.dataset.deadline);
    const from = row.dataset.paused === "yes" ? Number(row.dataset.evaluated) : nowMs();
    return deadline - from;
  }
  // the state a row shows now: its countdown past zero is breached (overdue), past its at-risk
  // instant (data-risk, when the views could tell it) at risk, whatever the views last said, as
  // the follower re-evaluates only every so often (and not at all when it stopped)
  function stateNow(row, ms) {
    const state = row.dataset.state;
    if (state !== "running" && state !== "at_risk") return state;
    if (ms < 0) return "breached";
    const risk = Number(row.dataset.risk || NaN);
    if (state === "running" && row.dataset.paused !== "yes" && !isNaN(risk) && nowMs() >= risk) return "at_risk";
    return state;
  }
  function tick() {
    let previous = -Infinity;
    let unordered = false;
    for (const row of body.rows) {
      if (!row.dataset.deadline) continue;
      const ms = left(row);
      const cell = row.cells[0];
      cell.textContent = duration(ms);
      cell.dataset.ms = String(ms);
      const state = stateNow(row, ms);
      if (row.dataset.shown !== state) {
        row.dataset.shown = state;
        for (const s of ["running", "at_risk", "breached"]) row.classList.toggle(s, s === state);
        const text = row.querySelector("td.state .word");
        if (text) text.textContent = words.state[state] || state;
      }
      row.classList.toggle("overdue", ms < 0);
      row.classList.toggle("paused", row.dataset.paused === "yes");
      unordered = unordered || ms < previous;
      previous = ms;
    }
    if (unordered) sort(); // countdowns pass each other (a paused one stands still)
  }
  function sort() {
    const rows = Array.from(body.rows);
    rows.sort((a, b) => left(a) - left(b) || a.dataset.key.localeCompare(b.dataset.key));
    rows.forEach((r) => body.appendChild(r));
    const count = document.getElementById("count");
    if (count) count.dataset.shown = String(rows.length);
  }
  function utcMs(text) { // an alert's time: "2025-10-01T09:00:00Z" (ISO 8601, UTC)
    return text ? Date.parse(text) : NaN;
  }
  function localParts(ms, zone) {
    const parts = new Intl.DateTimeFormat("en-CA", {
      timeZone: zone || "Asia/Shanghai", year: "numeric", month: "2-digit", day: "2-digit",
      hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23",
    }).formatToParts(new Date(ms));
    return Object.fromEntries(parts.map((p) => [p.type, p.value]));
  }
  // a deadline is the end of a period, written as the server writes it (replay/i18n.py Texts.end, weekday=True):
  // local midnight exactly (00:00:00) is the last day's 24:00, never the next day's 00:00 (art. 203)
  // with the weekday, Monday first as words.weekdays (replay/i18n.py Texts.weekdays)
  function weekday(v) {
    return words.weekdays[(new Date(Date.UTC(Number(v.year), Number(v.month) - 1, Number(v.day))).getUTCDay() + 6) % 7];
  }
  function localTime(ms, zone) {
    const v = localParts(ms, zone);
    if (v.hour === "00" && v.minute === "00" && v.second === "00" && ms % 1000 === 0) {
      const day = localParts(ms - 1, zone); // the instant before midnight: the last day's date
      return `${day.year}-${day.month}-${day.day} ${weekday(day)} 24:00`;
    }
    return `${v.year}-${v.month}-${v.day} ${weekday(v)} ${v.hour}:${v.minute}`;
  }
  function cell(row, text, href) {
    const td = row.insertCell();
    if (href) {
      const a = document.createElement("a");
      a.href = href;
      a.textContent = text || "";
      td.appendChild(a);
    } else {
      td.textContent = text || "";
    }
    return td;
  }
  // the header's count of clocks ("{n} clock" / "{n} clocks", replay/i18n.py Texts.plural_form): every clock the filters match, shown or not,
  // so a clock coming in live adds one and one leaving takes one away
  function counted(change) {
    const count = document.getElementById("count");
    if (!count) return;
    const total = Math.max(0, Number(count.dataset.total || 0) + change);
    count.dataset.total = String(total);
    count.textContent = fmt(words.clocks[total === 1 ? 0 : 1], { n: total.toLocaleString(words.lang) });
  }
  function findRow(key) {
    for (const row of body.rows) if (row.dataset.key === key) return row;
    return null;
  }
  function apply(alert) {
    const key = alert.ticket + "|" + alert.clock;
    let row = findRow(key);
    // a stopped clock leaves the queue, met or late (breached with stopped_at); one breached and
    // still running stays, or comes in, as overdue
    if (alert.state === "met" || alert.state === "not_applicable" || alert.stopped_at) {
      if (row) {
        row.remove();
        counted(-1);
      }
      return;
    }
    if (!row) {
      // a page filtered on what alerts do not carry (the assignee) cannot tell whether a new clock
      // belongs on it: it updates the rows it shows, and the next page brings the others
      if (new URLSearchParams(window.location.search).get("assignee")) return;
      counted(1);
      row = body.insertRow();
      row.dataset.key = key;
      const keep = new URLSearchParams(window.location.search).get("as_of");
      const suffix = keep ? "?as_of=" + encodeURIComponent(keep) : "";
      cell(row, "").className = "left"; // as queue_row.html's cells, so a live row is styled as a served one
      cell(row, alert.ticket, "/tickets/" + encodeURIComponent(alert.ticket) + suffix);
      cell(row, words.clock[alert.clock] || alert.clock);
      cell(row, "").className = "state";
      cell(row, "").className = "deadline";
      cell(row, alert.customer);
      cell(row, alert.site);
      cell(row, alert.technician);
      cell(row, alert.assignee).className = "assignee"; // alerts carry none yet: shown at the next page
      cell(row, words.severity[alert.severity] || alert.severity);
      cell(row, alert.asset, "/assets/" + encodeURIComponent(alert.asset || "") + suffix);
    }
    const deadline = utcMs(alert.deadline);
    // a moved deadline moves the at-risk instant too, which an alert does not carry: the
    // follower's own at-risk alert says it then
    if (row.dataset.deadline !== (isNaN(deadline) ? "" : String(deadline))) row.dataset.risk = "";
    row.dataset.deadline = isNaN(deadline) ? "" : String(deadline);
    row.dataset.evaluated = String(utcMs(alert.evaluated_at));
    row.dataset.paused = alert.paused_since ? "yes" : "no";
    row.dataset.state = alert.state;
    row.dataset.shown = alert.state;
    row.className = alert.state;
    row.cells[3].replaceChildren();
    const word = document.createElement("span");
    word.className = "word";
    word.textContent = words.state[alert.state] || alert.state;
    row.cells[3].appendChild(word);
    if (alert.paused_since) row.cells[3].append(" · " + words.paused);
    if (!isNaN(deadline)) row.cells[4].textContent = localTime(deadline, words.zones[alert.contract]);
  }

  // the line saying no clock runs, shown while the queue is empty (the page can start so and fill up live)
  function showEmpty() {
    const empty = document.getElementById("empty");
    if (empty) empty.hidden = body.rows.length > 0;
  }

  tick();
  setInterval(tick, 1000);
  if (table.dataset.live !== "yes") return;
  const status = document.getElementById("live");
  const params = new URLSearchParams(filters);
  params.set("since", table.dataset.since);
  const source = new EventSource("/live?" + params.toString());
  // "live" only while the server says the views are current: a connection to the console alone
  // says nothing of the follower behind it (adapters/web/health.py)
  const banner = document.getElementById("stale");
  source.onerror = () => { if (status) { status.textContent = words.offline; status.className = "live off"; } };
  source.addEventListener("status", (e) => {
    const s = JSON.parse(e.data);
    if (status) {
      status.textContent = s.stale ? words.stale : words.live;
      status.className = s.stale ? "live stale" : "live on";
    }
    if (banner) {
      banner.textContent = s.text || "";
      banner.hidden = !s.stale;
    }
  });
  source.addEventListener("clock", (e) => {
    apply(JSON.parse(e.data));
    sort();
    tick();
    showEmpty();
  });
})();
