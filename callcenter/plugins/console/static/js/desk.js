// The desk (工作台通用组件), loaded after common.js on every console page:
// * names next to codes (GET /api/console/names, once per page);
// * a Chinese date / date-time picker that replaces the browser's own (its language follows the
//   browser, not the page): every <input type="date|datetime-local"> is upgraded at load;
// * the case detail with names and who did each step (GET /api/console/cases/{n}/detail);
// * the searchable matter picker (name, keyword, pinyin, pinyin initials; the index is computed once
//   on the server, filtered here per keystroke);
// * case search for every role within what it may see (GET /api/cases applies the visibility rule).
"use strict";

const DESK = { names: null, namesLoading: null, matters: null, mattersLoading: null };

async function deskNames() {
  if (DESK.names) return DESK.names;
  if (!DESK.namesLoading) DESK.namesLoading = api("/api/console/names").then((n) => (DESK.names = n));
  return DESK.namesLoading;
}

// "name（code）" when the name is known, else the code; "" for none
function named(kind, code) {
  if (!code) return "";
  const n = DESK.names && DESK.names[kind] && DESK.names[kind][code];
  return n ? `${n}（${code}）` : code;
}

function nameOnly(kind, code) {
  if (!code) return "";
  return (DESK.names && DESK.names[kind] && DESK.names[kind][code]) || code;
}

// ------------------------------------------------------------------ Chinese date picker
const WEEKDAYS = () => t("picker.weekdays", "一,二,三,四,五,六,日").split(",");
const pad2 = (n) => String(n).padStart(2, "0");

function localIso(d, withTime) {
  const day = `${d.getFullYear()}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())}`;
  return withTime ? `${day}T${pad2(d.getHours())}:${pad2(d.getMinutes())}` : day;
}

function parseLocal(v) {
  if (!v) return null;
  const m = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2}))?/.exec(v);
  if (!m) return null;
  return new Date(+m[1], +m[2] - 1, +m[3], +(m[4] || 0), +(m[5] || 0));
}

function displayDate(v, withTime) {
  const d = parseLocal(v);
  if (!d) return "";
  const s = `${d.getFullYear()}年${pad2(d.getMonth() + 1)}月${pad2(d.getDate())}日`;
  return withTime ? `${s} ${pad2(d.getHours())}:${pad2(d.getMinutes())}` : s;
}

// Turn an <input type="date|datetime-local"> into a hidden input (same id, same value format, so
// the page's code keeps reading .value) and a Chinese picker next to it.
function upgradeDateInput(input) {
  if (input.dataset.ccPicker) return;
  const withTime = input.type === "datetime-local";
  const initial = input.value;
  input.type = "hidden";
  input.dataset.ccPicker = "1";
  const shown = el("input", { type: "text", readonly: true, class: "cc-date", "data-for": input.id || "",
    placeholder: t(withTime ? "picker.placeholder_time" : "picker.placeholder_date"), "aria-label": input.getAttribute("aria-label") || "" });
  const wrap = el("span", { class: "cc-date-wrap" }, shown);
  input.after(wrap);
  const sync = () => { shown.value = displayDate(input.value, withTime); };
  input.value = initial;
  sync();
  input.addEventListener("cc-change", sync);
  shown.addEventListener("click", () => openPicker(input, wrap, withTime, sync));
  shown.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); openPicker(input, wrap, withTime, sync); } });
}

function openPicker(input, wrap, withTime, sync) {
  document.querySelectorAll(".cc-picker").forEach((p) => p.remove());
  const now = new Date();
  let chosen = parseLocal(input.value);
  let view = new Date((chosen || now).getFullYear(), (chosen || now).getMonth(), 1);
  const hour = el("select", { class: "cc-hour", "aria-label": t("picker.hour") },
    [...Array(24).keys()].map((h) => el("option", { value: h, text: pad2(h) + t("picker.hour_suffix", "时") })));
  const minute = el("select", { class: "cc-minute", "aria-label": t("picker.minute") },
    [...Array(12).keys()].map((i) => el("option", { value: i * 5, text: pad2(i * 5) + t("picker.minute_suffix", "分") })));
  const base = chosen || new Date(now.getTime() + 30 * 60000);
  hour.value = String(base.getHours());
  minute.value = String(Math.floor(base.getMinutes() / 5) * 5);
  const title = el("b", { class: "cc-month" });
  const grid = el("table", { class: "cc-days" });
  const box = el("div", { class: "cc-picker", role: "dialog" },
    el("div", { class: "row" },
      el("button", { type: "button", class: "cc-prev", text: "‹", "aria-label": t("picker.prev_month"), onclick: () => { view.setMonth(view.getMonth() - 1); render(); } }),
      title,
      el("button", { type: "button", class: "cc-next", text: "›", "aria-label": t("picker.next_month"), onclick: () => { view.setMonth(view.getMonth() + 1); render(); } })),
    grid,
    withTime ? el("div", { class: "row" }, hour, minute) : null,
    el("div", { class: "row" },
      el("button", { type: "button", class: "cc-today", text: t("picker.today"), onclick: () => { chosen = new Date(); if (!withTime) { commit(); } else { view = new Date(chosen.getFullYear(), chosen.getMonth(), 1); render(); } } }),
      el("button", { type: "button", class: "cc-clear", text: t("picker.clear"), onclick: () => { input.value = ""; done(); } }),
      el("button", { type: "button", class: "primary cc-ok", text: t("picker.ok"), onclick: () => commit() })));
  function render() {
    title.textContent = `${view.getFullYear()}年${view.getMonth() + 1}月`;
    const first = (view.getDay() + 6) % 7; // Monday first
    const days = new Date(view.getFullYear(), view.getMonth() + 1, 0).getDate();
    const cells = [];
    for (let i = 0; i < first; i++) cells.push(el("td", {}));
    for (let d = 1; d <= days; d++) {
      const isChosen = chosen && chosen.getFullYear() === view.getFullYear() && chosen.getMonth() === view.getMonth() && chosen.getDate() === d;
      const isToday = now.getFullYear() === view.getFullYear() && now.getMonth() === view.getMonth() && now.getDate() === d;
      cells.push(el("td", {}, el("button", { type: "button", class: "cc-day" + (isChosen ? " chosen" : "") + (isToday ? " today" : ""), "data-day": d, text: d,
        onclick: () => { chosen = new Date(view.getFullYear(), view.getMonth(), d); if (!withTime) commit(); else render(); } })));
    }
    const rows = [];
    for (let i = 0; i < cells.length; i += 7) rows.push(el("tr", {}, cells.slice(i, i + 7)));
    fill(grid, el("tr", {}, WEEKDAYS().map((w) => el("th", { text: w }))), rows);
  }
  function commit() {
    if (!chosen) chosen = new Date();
    const d = new Date(chosen.getFullYear(), chosen.getMonth(), chosen.getDate(), withTime ? +hour.value : 0, withTime ? +minute.value : 0);
    input.value = localIso(d, withTime);
    done();
  }
  function done() {
    box.remove();
    sync();
    input.dispatchEvent(new Event("change"));
  }
  render();
  wrap.append(box);
  const outside = (e) => { if (!wrap.contains(e.target)) { box.remove(); document.removeEventListener("mousedown", outside); } };
  setTimeout(() => document.addEventListener("mousedown", outside), 0);
}

function upgradeDateInputs(root) {
  (root || document).querySelectorAll('input[type="date"], input[type="datetime-local"]').forEach(upgradeDateInput);
}

// set a picker-backed input programmatically
function setDateValue(input, value) {
  input.value = value || "";
  input.dispatchEvent(new Event("cc-change"));
}

// ------------------------------------------------------------------ matter picker
async function matterIndex() {
  if (DESK.matters) return DESK.matters;
  if (!DESK.mattersLoading) {
    DESK.mattersLoading = api("/api/console/matters/index").then((rows) => {
      for (const m of rows) m._kw = (m.keywords || []).join(" ").toLowerCase();
      DESK.matters = rows;
      return rows;
    });
  }
  return DESK.mattersLoading;
}

// rank of a matter for the query (lower is better; null = no match)
function matterRank(m, q) {
  if (!q) return 9;
  if (m.code === q) return 0;
  if (m.name.startsWith(q)) return 1;
  if (m.name.includes(q)) return 2;
  const ascii = /^[a-z]+$/.test(q);
  if (ascii && m.initials.startsWith(q)) return 3;
  if (ascii && m.pinyin.startsWith(q)) return 4;
  if (ascii && m.initials.includes(q)) return 5;
  if (m._kw.includes(q)) return 6;
  if ((m.category || "").includes(q)) return 7;
  if (ascii && m.pinyin.includes(q)) return 8;
  if (/^\d+$/.test(q) && m.code.startsWith(q)) return 8;
  return null;
}

function searchMatters(rows, query, limit = 30) {
  const q = String(query || "").trim().toLowerCase();
  const hits = [];
  for (const m of rows) {
    const r = matterRank(m, q);
    if (r !== null) hits.push([r, m]);
  }
  hits.sort((a, b) => a[0] - b[0] || a[1].code.localeCompare(b[1].code));
  return hits.slice(0, limit).map((h) => h[1]);
}

// A search box in front of a <select> of matters: the select keeps the value (forms and code that set
// it keep working); typing filters by name, keyword, category, pinyin or its initials.
async function mountMatterPicker(select, opts = {}) {
  if (select.dataset.ccPicker) return;
  select.dataset.ccPicker = "1";
  const rows = await matterIndex();
  if (opts.fillSelect) {
    fill(select, el("option", { value: "", text: opts.emptyText || t("agent.choose") }),
      rows.map((m) => el("option", { value: m.code, text: `${m.name}（${m.code}）` })));
  }
  const box = el("input", { type: "search", class: "cc-matter-search", id: (select.id || "matter") + "-search",
    placeholder: t("picker.matter_placeholder"), autocomplete: "off", "aria-label": t("agent.matter") });
  const list = el("ul", { class: "cc-matter-list hidden", role: "listbox" });
  const wrap = el("div", { class: "cc-matter" }, box, list);
  select.before(wrap);
  select.classList.add("cc-matter-select");
  let hits = [], active = 0;
  const label = (code) => {
    const m = rows.find((x) => x.code === code);
    return m ? `${m.name}（${m.code}）` : code || "";
  };
  const showValue = () => { if (document.activeElement !== box) box.value = label(select.value); };
  function render() {
    fill(list, hits.length ? hits.map((m, i) => el("li", { class: i === active ? "active" : "", "data-code": m.code, role: "option",
      onmousedown: (e) => { e.preventDefault(); pick(m.code); } },
      el("b", { text: m.name }), " ", el("span", { class: "muted", text: `${m.code} · ${m.category}` })))
      : el("li", { class: "muted", text: t("picker.no_matter") }));
    list.classList.remove("hidden");
  }
  function pick(code) {
    select.value = code;
    select.dispatchEvent(new Event("change", { bubbles: true }));
    if (opts.onPick) opts.onPick(code);
    list.classList.add("hidden");
    box.blur();
    box.value = label(code);
  }
  box.addEventListener("input", () => { hits = searchMatters(rows, box.value); active = 0; render(); });
  box.addEventListener("focus", () => { box.select(); hits = searchMatters(rows, box.value && box.value !== label(select.value) ? box.value : ""); active = 0; render(); });
  box.addEventListener("blur", () => { list.classList.add("hidden"); box.value = label(select.value); });
  box.addEventListener("keydown", (e) => {
    if (e.key === "ArrowDown") { active = Math.min(active + 1, hits.length - 1); render(); e.preventDefault(); }
    else if (e.key === "ArrowUp") { active = Math.max(active - 1, 0); render(); e.preventDefault(); }
    else if (e.key === "Enter") { if (hits[active]) pick(hits[active].code); e.preventDefault(); }
    else if (e.key === "Escape") { box.blur(); }
  });
  select.addEventListener("change", showValue);
  showValue();
  return { refresh: showValue, pick };
}

// ------------------------------------------------------------------ case detail with names and actors
function actorText(a) {
  if (!a) return "";
  const role = t("role." + a.role, a.role);
  if (!a.display_name) return role;
  const who = a.display_name === a.username || !a.username ? a.display_name : `${a.display_name}（${a.username}）`;
  return `${who} · ${role}` + (a.unit_name ? ` · ${a.unit_name}` : "");
}

// replaces common.js's showCase: the same dialog, with names next to codes and the actor of each step
async function showCase(number, onChange) {
  const [c, d] = await Promise.all([
    api(`/api/cases/${encodeURIComponent(number)}`),
    api(`/api/console/cases/${encodeURIComponent(number)}/detail`),
    deskNames(),
  ]);
  document.querySelectorAll("#case-modal").forEach((m) => m.remove());
  const close = () => modal.remove();
  const actions = el("div", { class: "row" });
  const formHolder = el("div", {});
  for (const a of c.allowed_actions) {
    actions.append(el("button", {
      "data-action": a, text: CC.labels.action[a] || a,
      onclick: async () => {
        const form = await actionForm(c.number, a, () => { close(); if (onChange) onChange(); });
        form.querySelectorAll('select[name="unit_code"] option').forEach((o) => { if (o.value) o.textContent = named("units", o.value); });
        const matterSel = form.querySelector('input[name="matter_code"]');
        if (matterSel) {
          const sel = el("select", { name: "matter_code" });
          matterSel.replaceWith(sel);
          await mountMatterPicker(sel, { fillSelect: true });
        }
        fill(formHolder, form);
      },
    }));
  }
  const n = d.names || {};
  const codeName = (name, code) => (code ? (name ? `${name}（${code}）` : code) : "—");
  const place = [n.district, n.street, n.community].filter(Boolean).join(" / ");
  const timeline = el("table", { class: "timeline" }, el("tr", {},
    ["case.event_time", "case.action", "case.status", "case.actor_who", "case.unit", "case.reason"].map((k) => el("th", { text: t(k) }))),
    (d.timeline || []).map((e) => el("tr", { "data-seq": e.seq },
      el("td", { text: fmtTime(e.created_at) }), el("td", { text: e.action_label || e.action }),
      el("td", { text: e.to_status_label || statusLabel(e.to_status) }),
      el("td", { class: "actor", text: actorText(e.actor) }),
      el("td", { text: e.unit_code ? codeName(e.unit_name, e.unit_code) : "" }),
      el("td", { text: e.reason || (e.data && e.data.text) || "" }))));
  const coUnits = Object.entries(n.co_units || {}).map(([code, name]) => codeName(name, code)).join("、");
  const modal = el("div", { class: "modal", id: "case-modal", onclick: (e) => { if (e.target === modal) close(); } },
    el("div", { class: "card" },
      el("div", { class: "row" }, el("h2", { text: t("case.detail") }), el("button", { text: t("common.close"), onclick: close })),
      el("div", { class: "case-number", text: c.number }),
      el("p", {}, el("span", { class: "badge", id: "case-status", text: c.status_label }), " ",
        c.supervised ? el("span", { class: "badge warn", text: t("case.supervised") }) : null, " ",
        c.kpi_excluded ? el("span", { class: "badge", text: t("case.excluded") }) : null),
      el("p", {}, el("b", { text: t("case.matter") + "：" }), el("span", { id: "case-matter", text: codeName(n.matter, c.matter_code) }), "　",
        el("b", { text: t("case.unit") + "：" }), el("span", { id: "case-unit", text: codeName(n.unit, c.unit_code) }),
        coUnits ? el("span", {}, "　", el("b", { text: t("case.co_units") + "：" }), coUnits) : null),
      el("p", {}, el("b", { text: t("case.place") + "：" }), el("span", { id: "case-place", text: place || "—" }),
        c.address ? "　" + c.address : "", "　",
        el("b", { text: t("case.kind") + "：" }), t("kind." + c.kind, c.kind), "　",
        el("b", { text: t("case.priority") + "：" }), t("priority." + c.priority, c.priority)),
      el("p", {}, el("b", { text: t("case.created_at") + "：" }), fmtTime(c.created_at), "　",
        el("b", { text: t("case.accept_due_at") + "：" }), fmtTime(c.accept_due_at) || "—", "　",
        el("b", { text: t("case.due_at") + "：" }), fmtTime(c.due_at) || "—"),
      el("p", {}, el("b", { text: t("case.description") + "：" }), c.description),
      c.feedback_text ? el("p", {}, el("b", { text: t("case.feedback") + "：" }), c.feedback_text) : null,
      el("h2", { text: t("case.timeline") }), timeline,
      el("h2", { text: t("case.actions") }), actions, formHolder));
  document.body.append(modal);
  return modal;
}

// ------------------------------------------------------------------ case search (every role)
const SEARCH_STATUSES = ["draft", "registered", "dispatched", "accepted", "returned", "feedback", "closed", "arbitration", "merged"];
const PAGE_SIZE = 20;

// Mount the search panel into ``holder``. Ids #search-form, #s-q, #s-phone and #search-results stay
// those of the agent page's former search, so links and tests keep working.
async function mountCaseSearch(holder, opts = {}) {
  const role = CC.config.user.role;
  const unitRole = role === "unit_handler";
  await deskNames();
  const input = (id, attrs = {}) => el("input", Object.assign({ id }, attrs));
  const statusSel = el("select", { id: "s-status" }, el("option", { value: "", text: t("search.all") }),
    SEARCH_STATUSES.filter((s) => CC.labels.status[s]).map((s) => el("option", { value: s, text: statusLabel(s) })));
  const unitSel = el("select", { id: "s-unit" }, el("option", { value: "", text: t("search.all") }),
    Object.entries(DESK.names.units).sort((a, b) => a[0].localeCompare(b[0])).map(([code, name]) => el("option", { value: code, text: `${name}（${code}）` })));
  const districts = await api("/api/areas?level=district");
  const districtSel = el("select", { id: "s-district" }, el("option", { value: "", text: t("search.all") }),
    districts.map((a) => el("option", { value: a.code, text: a.name })));
  const streetSel = el("select", { id: "s-street" }, el("option", { value: "", text: t("search.all") }));
  districtSel.addEventListener("change", async () => {
    const rows = districtSel.value ? await api(`/api/areas?parent=${districtSel.value}`) : [];
    fill(streetSel, el("option", { value: "", text: t("search.all") }), rows.map((a) => el("option", { value: a.code, text: a.name })));
  });
  const matterSel = el("select", { id: "s-matter" });
  const from = input("s-from", { type: "date", "aria-label": t("search.from") });
  const to = input("s-to", { type: "date", "aria-label": t("search.to") });
  const field = (key, node) => el("div", { class: "cc-field" }, el("label", { text: t(key) }), node);
  const form = el("form", { id: "search-form", class: "cc-search" },
    el("div", { class: "row" },
      field("search.q", input("s-q", { placeholder: t("agent.search_q") })),
      unitRole ? null : field("agent.search_phone", input("s-phone", { placeholder: t("agent.search_phone") })),
      field("search.from", from), field("search.to", to),
      field("case.status", statusSel)),
    el("div", { class: "row" },
      unitRole ? null : field("case.unit", unitSel),
      field("agent.district", districtSel), field("agent.street", streetSel),
      el("div", { class: "cc-field cc-field-matter" }, el("label", { text: t("case.matter") }), matterSel),
      el("button", { type: "submit", class: "primary", text: t("common.search") }),
      el("button", { type: "button", id: "s-reset", text: t("search.reset"), onclick: () => { form.reset(); setDateValue(from, ""); setDateValue(to, ""); matterSel.value = ""; matterSel.dispatchEvent(new Event("change")); } })));
  const summary = el("p", { id: "search-summary", class: "muted" });
  const table = el("table", { id: "search-results" });
  const pager = el("div", { class: "row", id: "search-pager" });
  fill(holder, opts.title === false ? null : el("h2", { text: t("agent.search") }), form, summary, table, pager);
  upgradeDateInputs(form);
  await mountMatterPicker(matterSel, { fillSelect: true, emptyText: t("search.all") });
  let offset = 0;
  async function run() {
    const p = new URLSearchParams();
    const v = (id) => { const n = form.querySelector("#" + id); return n ? n.value.trim() : ""; };
    if (v("s-q")) p.set("q", v("s-q"));
    if (v("s-phone")) p.set("phone", v("s-phone"));
    if (v("s-status")) p.set("status", v("s-status"));
    if (!unitRole && v("s-unit")) p.set("unit", v("s-unit"));
    if (v("s-matter")) p.set("matter", v("s-matter"));
    const area = v("s-street") || v("s-district");
    if (area) p.set("area", area);
    // dates are local days: from its start, to the end of the "to" day
    const f = parseLocal(from.value), tt = parseLocal(to.value);
    if (f) p.set("created_from", f.toISOString());
    if (tt) p.set("created_to", new Date(tt.getFullYear(), tt.getMonth(), tt.getDate() + 1).toISOString());
    p.set("limit", String(PAGE_SIZE));
    p.set("offset", String(offset));
    const page = await guarded(() => api("/api/cases?" + p));
    const pages = Math.max(1, Math.ceil(page.total / PAGE_SIZE));
    const current = Math.floor(offset / PAGE_SIZE) + 1;
    summary.textContent = t("search.summary").replace("{total}", page.total).replace("{page}", current).replace("{pages}", pages);
    fill(table, el("tr", {}, ["case.number", "case.status", "case.matter", "case.unit", "case.place", "case.created_at", "case.description"].map((k) => el("th", { text: t(k) }))),
      page.items.length ? page.items.map((c) => el("tr", { "data-number": c.number },
        el("td", {}, el("a", { href: "#", text: c.number, onclick: (ev) => { ev.preventDefault(); showCase(c.number, run); } })),
        el("td", { text: c.status_label }), el("td", { class: "matter", text: named("matters", c.matter_code) }),
        el("td", { class: "unit", text: named("units", c.unit_code) }),
        el("td", { text: [nameOnly("areas", c.district_code), nameOnly("areas", c.street_code)].filter(Boolean).join(" / ") }),
        el("td", { text: fmtTime(c.created_at) }), el("td", { text: (c.description || "").slice(0, 60) })))
        : el("tr", {}, el("td", { colspan: "7", class: "muted", text: t("search.nothing") })));
    fill(pager,
      el("button", { type: "button", id: "s-prev", text: t("search.prev"), disabled: offset === 0, onclick: () => { offset = Math.max(0, offset - PAGE_SIZE); run(); } }),
      el("span", { text: `${current} / ${pages}` }),
      el("button", { type: "button", id: "s-next", text: t("search.next"), disabled: offset + PAGE_SIZE >= page.total, onclick: () => { offset += PAGE_SIZE; run(); } }));
  }
  form.addEventListener("submit", (e) => { e.preventDefault(); offset = 0; run(); });
  return { run };
}

// ------------------------------------------------------------------ at load
document.addEventListener("DOMContentLoaded", () => upgradeDateInputs());
