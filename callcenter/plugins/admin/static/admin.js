// The admin screen (系统管理): users, units, matters, time limits, responsibility rules, audit trail.
// One generic editor (a table and a form built from a field list) per kind; the server checks every
// value (callcenter.services.admin, the same checks as the CLI) and answers a refusal in Chinese.
"use strict";

const ADM = { meta: null, units: [] };

const ta = (k) => t("admin.f." + k, k);

// field kinds: text (default), select (options, labels prefix), unit, bool, password, number, list
function inputFor(f, value) {
  const attrs = { name: f.name, id: "a-" + f.name };
  if (f.type === "select") {
    return el("select", attrs, f.empty ? el("option", { value: "", text: t("agent.choose") }) : null,
      f.options().map((o) => el("option", { value: o.code || o, text: o.name ? `${o.name}（${o.code}）` : t((f.labels || "") + o, o) })));
  }
  if (f.type === "unit") {
    return el("select", attrs, el("option", { value: "", text: t("common.none") }),
      ADM.units.map((u) => el("option", { value: u.code, text: `${u.name}（${u.code}）` })));
  }
  if (f.type === "bool") return el("select", attrs, el("option", { value: "true", text: t("common.yes") }), el("option", { value: "false", text: t("common.no") }));
  if (f.type === "password") return el("input", Object.assign(attrs, { type: "password", autocomplete: "new-password", placeholder: t("admin.password_hint") }));
  if (f.type === "number") return el("input", Object.assign(attrs, { type: "number", step: f.step || "any", min: f.min, max: f.max }));
  if (f.type === "textarea") return el("textarea", attrs);
  return el("input", attrs);
}

function setField(form, f, value) {
  const node = form.elements[f.name];
  if (!node) return;
  if (f.type === "bool") node.value = value === false ? "false" : "true";
  else if (f.type === "list") node.value = (value || []).join("、");
  else if (f.type === "password") node.value = "";
  else node.value = value === null || value === undefined ? "" : String(value);
  if (node.tagName === "SELECT") node.dispatchEvent(new Event("change"));
  if (f.lockOnEdit) node.readOnly = value !== undefined && value !== null && value !== "";
}

function readField(form, f) {
  const v = form.elements[f.name].value;
  if (f.type === "bool") return v === "true";
  if (f.type === "number") return v === "" ? null : Number(v);
  if (f.type === "list") return v.split(/[、,，\s|]+/).map((x) => x.trim()).filter(Boolean);
  if (f.type === "password") return v || null;
  return v === "" && f.nullable ? null : v;
}

function cellText(f, v) {
  if (f.type === "bool") return v ? t("common.yes") : t("admin.inactive");
  if (f.type === "list") return (v || []).join("、");
  if (f.type === "unit") return v ? named("units", v) : "";
  if (f.type === "select" && f.labels) return v ? t(f.labels + v, v) : "";
  if (f.type === "select" && f.named) return named(f.named, v);
  return v === null || v === undefined ? "" : String(v);
}

// A kind's table + form. spec: { key, list(q) → rows, create(body), update(row, body), fields, search }
function editor(holder, spec) {
  const form = el("form", { class: "admin-form card", "data-kind": spec.kind },
    el("h2", { class: "admin-form-title", text: t("admin.new") }),
    el("div", { class: "admin-fields" }, spec.fields.filter((f) => !f.listOnly).map((f) =>
      el("div", { class: "cc-field" }, el("label", { for: "a-" + f.name, text: ta(f.name) }), inputFor(f)))),
    el("div", { class: "row" },
      el("button", { type: "submit", class: "primary", id: "a-save", text: t("admin.save") }),
      el("button", { type: "button", id: "a-new", text: t("admin.new"), onclick: () => edit(null) })));
  const search = spec.search ? el("input", { type: "search", id: "a-q", placeholder: t("admin.search") }) : null;
  const table = el("table", { class: "admin-table", id: "a-table" });
  const summary = el("p", { class: "muted", id: "a-summary" });
  fill(holder, el("div", { class: "grid two" },
    el("div", { class: "card" }, search ? el("div", { class: "row" }, search, el("button", { type: "button", text: t("common.search"), onclick: () => load() })) : null, summary, table),
    form));
  if (search) search.addEventListener("keydown", (e) => { if (e.key === "Enter") { e.preventDefault(); load(); } });
  let current = null;
  function edit(row) {
    current = row;
    form.querySelector(".admin-form-title").textContent = row ? t("admin.edit") + "：" + row[spec.key] : t("admin.new");
    for (const f of spec.fields) if (!f.listOnly) setField(form, f, row ? row[f.name] : f.default);
    if (!row) spec.fields.filter((f) => f.lockOnEdit).forEach((f) => { form.elements[f.name].readOnly = false; });
    if (spec.onEdit) spec.onEdit(form, row);
  }
  async function load() {
    const res = await api(spec.list(search ? search.value.trim() : ""));
    const rows = Array.isArray(res) ? res : res.items;
    summary.textContent = t("admin.count").replace("{n}", Array.isArray(res) ? rows.length : res.total);
    const cols = spec.fields.filter((f) => f.column);
    fill(table, el("tr", {}, cols.map((f) => el("th", { text: ta(f.name) })), el("th", {})),
      rows.map((r) => el("tr", { "data-key": r[spec.key], class: r.active === false ? "muted" : "" },
        cols.map((f) => el("td", { text: cellText(f, r[f.name]) })),
        el("td", {}, el("button", { type: "button", class: "a-edit", text: t("admin.edit"), onclick: () => edit(r) }),
          spec.remove ? el("button", { type: "button", class: "a-delete danger", text: t("admin.delete"), onclick: async () => {
            if (!confirm(t("admin.confirm_delete"))) return;
            await guarded(() => api(spec.remove(r), { method: "DELETE" }));
            toast(t("common.ok")); load();
          } }) : null))));
  }
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const body = {};
    for (const f of spec.fields) if (!f.listOnly && !f.noSend) body[f.name] = readField(form, f);
    if (spec.beforeSave) spec.beforeSave(body, form);
    await guarded(async () => {
      const saved = current ? await api(spec.update(current), { method: "PUT", body }) : await api(spec.create(), { method: "POST", body });
      toast(t("admin.saved"));
      await load();
      if (spec.afterSave) await spec.afterSave();
      edit(Object.assign({}, saved));
    });
  });
  edit(null);
  return { load, edit, form };
}

// ------------------------------------------------------------------ the kinds
const enc = encodeURIComponent;

function usersTab() {
  return editor(document.getElementById("tab-users"), {
    kind: "user", key: "username", list: () => "/api/admin/users",
    create: () => "/api/admin/users", update: (r) => `/api/admin/users/${enc(r.username)}`,
    fields: [
      { name: "username", column: true, lockOnEdit: true },
      { name: "display_name", column: true },
      { name: "role", type: "select", options: () => ADM.meta.roles, labels: "role.", column: true },
      { name: "unit_code", type: "unit", column: true, nullable: true },
      { name: "extension", column: true, nullable: true },
      { name: "node", nullable: true },
      { name: "password", type: "password" },
      { name: "active", type: "bool", column: true, default: true },
    ],
  });
}

function unitsTab() {
  return editor(document.getElementById("tab-units"), {
    kind: "unit", key: "code", search: true, list: (q) => "/api/admin/units" + (q ? "?q=" + enc(q) : ""),
    create: () => "/api/admin/units", update: (r) => `/api/admin/units/${enc(r.code)}`,
    afterSave: async () => { ADM.units = await api("/api/admin/units"); DESK.names = null; await deskNames(); },
    fields: [
      { name: "code", column: true, lockOnEdit: true },
      { name: "name", column: true },
      { name: "kind", type: "select", options: () => ADM.meta.unit_kinds, labels: "admin.unit_kind.", column: true },
      { name: "parent_code", type: "unit", nullable: true },
      { name: "area_code", nullable: true, column: true },
      { name: "industry", nullable: true },
      { name: "phone", nullable: true },
      { name: "active", type: "bool", column: true, default: true },
    ],
  });
}

function mattersTab() {
  return editor(document.getElementById("tab-matters"), {
    kind: "matter", key: "code", search: true, list: (q) => "/api/admin/matters?limit=200" + (q ? "&q=" + enc(q) : ""),
    create: () => "/api/admin/matters", update: (r) => `/api/admin/matters/${enc(r.code)}`,
    fields: [
      { name: "code", column: true, lockOnEdit: true },
      { name: "name", column: true },
      { name: "category_code", type: "select", options: () => ADM.meta.categories, column: true, named: "categories" },
      { name: "keywords", type: "list", column: true },
      { name: "owner_rule", type: "select", options: () => ADM.meta.owner_rules, labels: "admin.owner_rule.", column: true },
      { name: "industry", nullable: true },
      ...timeLimitFields().map((f) => Object.assign({ column: true }, f)),
      { name: "description", type: "textarea" },
      { name: "active", type: "bool", column: true, default: true },
    ],
  });
}

// the time-limit fields come from the server (GET /api/admin/meta time_limit_fields): a new field,
// such as the unit of the handling limit, appears here without code changes
function timeLimitFields() {
  return ADM.meta.time_limit_fields.map((f) => f.type === "select"
    ? { name: f.name, type: "select", options: () => f.options, labels: "admin.f." + f.name + "." }
    : { name: f.name, type: "number", step: f.step, min: f.min, max: f.max });
}

function limitsTab() {
  const holder = document.getElementById("tab-limits");
  const matterBox = el("div", {});
  const policyBox = el("div", { class: "card", style: "margin-top:12px" });
  fill(holder, matterBox, policyBox);
  const ed = editor(matterBox, {
    kind: "time_limit", key: "code", search: true, list: (q) => "/api/admin/matters?limit=200" + (q ? "&q=" + enc(q) : ""),
    create: () => { throw new Error(t("admin.pick_matter")); }, update: (r) => `/api/admin/matters/${enc(r.code)}/time-limits`,
    fields: [
      { name: "code", column: true, lockOnEdit: true, noSend: true },
      { name: "name", column: true, noSend: true },
      ...timeLimitFields().map((f) => Object.assign({ column: true }, f)),
    ],
  });
  ed.form.elements.name.readOnly = true;
  async function loadPolicies() {
    const rows = await api("/api/admin/policies");
    const fields = [["accept_hours", 0.5], ["handle_factor", 0.1], ["max_handle_hours", 1]];
    fill(policyBox, el("h2", { text: t("admin.policies") }), el("table", { id: "a-policies" },
      el("tr", {}, el("th", { text: ta("priority") }), fields.map(([f]) => el("th", { text: ta(f) })), el("th", {})),
      rows.map((r) => {
        const inputs = fields.map(([f, step]) => el("input", { type: "number", step, name: f, value: r[f] ?? "" }));
        return el("tr", { "data-priority": r.priority }, el("td", { text: t("priority." + r.priority) }),
          inputs.map((i) => el("td", {}, i)),
          el("td", {}, el("button", { type: "button", text: t("admin.save"), onclick: async () => {
            const body = {};
            inputs.forEach((i) => { body[i.name] = i.value === "" ? null : Number(i.value); });
            if (body.handle_factor === null) body.handle_factor = 1;
            await guarded(() => api(`/api/admin/policies/${r.priority}`, { method: "PUT", body }));
            toast(t("admin.saved"));
          } })));
      })));
  }
  return { load: async () => { await ed.load(); await loadPolicies(); } };
}

function rulesTab() {
  const holder = document.getElementById("tab-rules");
  const filterSel = el("select", { id: "a-rule-matter" });
  const top = el("div", { class: "card row" }, el("label", { text: t("admin.filter_matter") }), filterSel);
  const box = el("div", { style: "margin-top:12px" });
  fill(holder, top, box);
  const ed = editor(box, {
    kind: "rule", key: "id", list: () => "/api/admin/rules" + (filterSel.value ? "?matter=" + enc(filterSel.value) : ""),
    create: () => "/api/admin/rules", update: (r) => `/api/admin/rules/${r.id}`, remove: (r) => `/api/admin/rules/${r.id}`,
    fields: [
      { name: "id", column: true, listOnly: true },
      { name: "matter_code", type: "select", options: () => [], column: true, named: "matters" },
      { name: "area_code", column: true },
      { name: "unit_code", type: "unit", column: true },
      { name: "rule_kind", type: "select", options: () => ADM.meta.rule_kinds, labels: "admin.rule_kind.", column: true },
      { name: "note", column: true },
    ],
  });
  const matterSel = ed.form.elements.matter_code;
  const ready = Promise.all([
    mountMatterPicker(matterSel, { fillSelect: true }),
    mountMatterPicker(filterSel, { fillSelect: true, emptyText: t("search.all") }),
  ]);
  filterSel.addEventListener("change", () => ed.load());
  return { load: async () => { await ready; await ed.load(); } };
}

async function loadAudit() {
  const rows = await api("/api/admin/audit?limit=200");
  const changes = (d) => {
    if (d.changes) return Object.entries(d.changes).map(([k, [a, b]]) => `${ta(k)}：${fmtVal(a)} → ${fmtVal(b)}`).join("；");
    if (d.values) return Object.entries(d.values).map(([k, v]) => `${ta(k)}：${fmtVal(v)}`).join("；");
    return "";
  };
  fill(document.getElementById("tab-audit"), el("div", { class: "card" }, el("h2", { text: t("admin.tab.audit") }),
    el("table", { id: "a-audit" }, el("tr", {}, ["at", "actor", "action", "target", "changes"].map((k) => el("th", { text: t("admin.audit." + k) }))),
      rows.map((r) => el("tr", { "data-action": r.action }, el("td", { text: fmtTime(r.at) }), el("td", { text: r.actor }),
        el("td", { text: t("admin.action." + r.action, r.action) }), el("td", { text: r.target || "" }), el("td", { text: changes(r.detail || {}) }))))));
}

function fmtVal(v) {
  if (v === null || v === undefined || v === "") return "—";
  if (v === true) return t("common.yes");
  if (v === false) return t("common.no");
  if (Array.isArray(v)) return v.join("、");
  return String(v);
}

// ------------------------------------------------------------------ start
(async () => {
  if (!(await boot(["admin"]))) return;
  if (CC.config.user.role !== "admin") { location.href = pageFor(CC.config.user.role); return; }
  [ADM.meta, ADM.units] = await Promise.all([api("/api/admin/meta"), api("/api/admin/units"), deskNames()]);
  const tabs = { users: usersTab(), units: unitsTab(), matters: mattersTab(), limits: limitsTab(), rules: rulesTab(), audit: { load: loadAudit } };
  document.querySelectorAll("nav.tabs button").forEach((btn) => btn.addEventListener("click", async () => {
    document.querySelectorAll("nav.tabs button").forEach((b) => b.classList.toggle("active", b === btn));
    document.querySelectorAll(".admin-tab").forEach((s) => s.classList.toggle("hidden", s.id !== "tab-" + btn.dataset.tab));
    await tabs[btn.dataset.tab].load();
  }));
  await tabs.users.load();
  document.body.dataset.ready = "1";
})();
