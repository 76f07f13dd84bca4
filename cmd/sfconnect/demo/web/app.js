// The page's behaviour: render each server-sent state, and submit the two
// edit forms. No framework, no build step.
"use strict";

const $ = (id) => document.getElementById(id);
let previous = { sf: {}, web: {} };

function cell(text, cls) {
  const td = document.createElement("td");
  td.textContent = text;
  if (cls) td.className = cls;
  return td;
}

// renderRows fills one column; a row whose values changed since the last
// state flashes.
function renderRows(tbody, rows, side) {
  const seen = {};
  tbody.replaceChildren(...rows.map((r) => {
    const tr = document.createElement("tr");
    tr.dataset.id = r.id;
    const values = [r.name, r.industry, r.city, r.employees];
    const key = r.present ? values.join("\u0000") : null;
    seen[r.id] = key;
    if (!r.present) {
      tr.className = "missing";
      tr.append(cell(r.id, "id"), cell("not in this side (yet)"), cell(""), cell(""), cell(""));
      return tr;
    }
    if (side in previous && r.id in previous[side] && previous[side][r.id] !== key) tr.classList.add("flash");
    tr.append(cell(r.id, "id"), cell(r.name, "name"), cell(r.industry), cell(r.city, "city"), cell(r.employees));
    return tr;
  }));
  previous[side] = seen;
}

// renderOptions keeps each form's record choice while the rows move.
function renderOptions(select, rows) {
  const keep = select.value;
  select.replaceChildren(...rows.filter((r) => r.present).map((r) => {
    const o = document.createElement("option");
    o.value = r.id;
    o.textContent = `${r.name || "(no name)"} · ${r.id}`;
    return o;
  }));
  if (keep && [...select.options].some((o) => o.value === keep)) select.value = keep;
}

function fmt(n, digits) {
  return Number(n).toLocaleString(undefined, { maximumFractionDigits: digits ?? 0 });
}

function render(st) {
  const cols = st.columns;
  renderRows($("sf-rows"), cols.salesforce || [], "sf");
  renderRows($("web-rows"), cols.webapp || [], "web");
  renderOptions($("sf-id"), cols.salesforce || []);
  renderOptions($("web-id"), cols.webapp || []);
  $("sf-total").textContent = `(${cols.salesforceTotal} Accounts)`;
  $("web-total").textContent = `(${cols.webappTotal} documents)`;
  $("echo-count").textContent = String(st.echo.echoes);
  $("echo-count").classList.toggle("bad", st.echo.echoes !== 0);
  $("suppressed-count").textContent = String(st.echo.suppressed);
  const s = st.status;
  $("channels").replaceChildren(...(s.channels || []).map((c) => {
    const tr = document.createElement("tr");
    tr.append(cell(c.channel), cell(fmt(c.replayPosition)), cell(fmt(c.lagSeconds, 2)), cell(fmt(c.events)), cell(fmt(c.eventsPerSec, 1)));
    return tr;
  }));
  $("sinks").replaceChildren(...(s.sinks || []).map((c) => {
    const tr = document.createElement("tr");
    tr.append(cell(c.connector), cell(fmt(c.records)), cell(fmt(c.recordsPerSec, 1)), cell(fmt(c.deadLetters)));
    return tr;
  }));
  $("source-dlq").textContent = fmt(s.sourceDeadLetters);
  $("conflicts").textContent = fmt(s.conflicts);
  $("loop-events").textContent = fmt(s.loopEvents);
  $("api-budget").textContent = `${fmt(s.apiUsed)} of ${fmt(s.apiLimit)} requests used today`;
  $("sink-budget").textContent = s.sinkBudgetRemaining < 0 ? "no call yet" : `${fmt(s.sinkBudgetRemaining)} remaining`;
  $("error").hidden = !st.error;
  $("error").textContent = st.error || "";
  document.body.dataset.ready = "1";
}

function connect() {
  const es = new EventSource("events");
  es.onmessage = (ev) => render(JSON.parse(ev.data));
  es.onerror = () => { $("error").hidden = false; $("error").textContent = "reconnecting to sfconnect dev…"; };
}

function wire(prefix, url) {
  $(`${prefix}-form`).addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const body = { id: $(`${prefix}-id`).value, name: $(`${prefix}-name`).value, city: $(`${prefix}-city`).value };
    const out = $(`${prefix}-result`);
    out.textContent = "saving…";
    try {
      const res = await fetch(url, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
      out.textContent = res.ok ? "saved" : `failed: ${await res.text()}`;
    } catch (e) {
      out.textContent = `failed: ${e}`;
    }
  });
}

wire("sf", "api/salesforce");
wire("web", "api/webapp");
connect();
