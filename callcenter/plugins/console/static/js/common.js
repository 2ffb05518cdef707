// Shared helpers of the console pages: Chinese text (i18n/zh-CN.json), API calls with the bearer
// token, the live event stream (Server-Sent Events, resumes with Last-Event-ID), case detail dialog.
"use strict";

const CC = {
  texts: {},
  labels: { status: {}, action: {}, satisfaction: {} },
  config: null,
};

function t(key, fallback) {
  return CC.texts[key] !== undefined ? CC.texts[key] : (fallback !== undefined ? fallback : key);
}

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") node.className = v;
    else if (k === "text") node.textContent = v;
    else if (k === "html") node.innerHTML = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

// replaceChildren that accepts nested arrays (lists of rows) and skips null / false
function fill(node, ...kids) {
  node.replaceChildren(...kids.flat(Infinity).filter((k) => k !== null && k !== undefined && k !== false));
  return node;
}

function escapeHtml(s) {
  return String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
}

function token() { return localStorage.getItem("cc_token"); }

function logout() {
  localStorage.removeItem("cc_token");
  document.cookie = "cc_token=; path=/; max-age=0; SameSite=Strict";
  location.href = "/console/";
}

async function api(path, opts = {}) {
  const headers = Object.assign({}, opts.headers || {});
  if (token()) headers["Authorization"] = "Bearer " + token();
  let body = opts.body;
  if (body !== undefined && !(body instanceof FormData) && !(body instanceof URLSearchParams)) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(body);
  }
  const res = await fetch(path, { method: opts.method || (body ? "POST" : "GET"), headers, body });
  if (res.status === 401 && !opts.noRedirect) { logout(); throw new Error("401"); }
  const text = await res.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch (e) { data = text; }
  if (!res.ok) {
    let detail = data && data.detail !== undefined ? data.detail : text;
    if (Array.isArray(detail)) detail = detail.map((d) => (d.loc || []).slice(-1)[0] + ": " + d.msg).join("; ");
    // errors the server names with a code (X-Error-Code) are shown in Chinese from zh-CN.json
    const code = res.headers.get("X-Error-Code");
    if (code && CC.texts["error." + code] !== undefined) detail = t("error." + code);
    // an English answer without a code: the Chinese text of its status (the English stays in err.detail)
    const english = String(detail || "");
    if (!/[\u4e00-\u9fff]/.test(english) && CC.texts["error.http." + res.status] !== undefined) {
      detail = t("error.http." + res.status) + (res.status === 422 && english ? "（" + english + "）" : "");
    }
    const err = new Error(String(detail || res.status));
    err.detail = english;
    err.status = res.status;
    err.code = code;
    throw err;
  }
  return data;
}

function toast(message, bad) {
  const node = el("div", { class: "toast" + (bad ? " bad" : ""), role: "status", text: message });
  document.body.append(node);
  setTimeout(() => node.remove(), bad ? 6000 : 2500);
}

async function guarded(fn) {
  try { return await fn(); } catch (e) { toast(t("common.error") + "：" + e.message, true); throw e; }
}

function applyTexts(root) {
  (root || document).querySelectorAll("[data-i18n]").forEach((n) => { n.textContent = t(n.dataset.i18n); });
  (root || document).querySelectorAll("[data-i18n-placeholder]").forEach((n) => { n.placeholder = t(n.dataset.i18nPlaceholder); });
}

async function boot(expectRoles) {
  CC.texts = await (await fetch("/console/i18n/zh-CN.json")).json();
  applyTexts();
  if (!token()) { location.href = "/console/"; return false; }
  CC.config = await api("/api/console/config");
  CC.labels = await api("/api/console/labels");
  if (expectRoles && !expectRoles.includes(CC.config.user.role) && CC.config.user.role !== "admin") {
    location.href = pageFor(CC.config.user.role); return false;
  }
  const who = document.getElementById("who");
  if (who) who.textContent = (CC.config.user.display_name || CC.config.user.username);
  const out = document.getElementById("logout");
  if (out) out.addEventListener("click", logout);
  return true;
}

function pageFor(role) {
  if (role === "admin") return "/admin/"; // the admin plugin's screen (系统管理)
  return role === "supervisor" ? "/console/supervisor.html"
    : role === "unit_handler" ? "/console/unit.html" : "/console/agent.html";
}

// ------------------------------------------------------------------ live events (SSE)
function live(onEvent, opts = {}) {
  const url = "/api/console/events" + (opts.wallboard ? "?wallboard=1" : "");
  const badge = document.getElementById("live");
  let source = null;
  function setState(ok) {
    if (!badge) return;
    badge.textContent = ok ? t("common.live_ok") : t("common.live_down");
    badge.classList.toggle("down", !ok);
  }
  function connect() {
    // EventSource resends the last id as Last-Event-ID when it reconnects by itself; the cookie
    // carries the token (EventSource cannot send headers).
    source = new EventSource(url, { withCredentials: true });
    source.onopen = () => setState(true);
    source.onerror = () => setState(false);
    source.onmessage = (m) => { try { onEvent(JSON.parse(m.data)); } catch (e) { console.error(e); } };
    source.addEventListener("wallboard", (m) => { if (opts.onWallboard) opts.onWallboard(JSON.parse(m.data)); });
    source.addEventListener("hello", () => setState(true));
    // the server ends the stream when the user was deactivated or the login expired
    source.addEventListener("end", () => { source.close(); logout(); });
  }
  connect();
  return { close: () => source && source.close() };
}

// ------------------------------------------------------------------ formatting
function fmtTime(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  return d.toLocaleString("zh-CN", { hour12: false });
}

function fmtDuration(seconds) {
  seconds = Math.max(0, Math.floor(seconds));
  const h = Math.floor(seconds / 3600), m = Math.floor((seconds % 3600) / 60), s = seconds % 60;
  const mm = String(m).padStart(2, "0"), ss = String(s).padStart(2, "0");
  return h ? `${h}:${mm}:${ss}` : `${mm}:${ss}`;
}

function since(iso) { return iso ? (Date.now() - new Date(iso).getTime()) / 1000 : 0; }

function pct(v) { return v === null || v === undefined ? "—" : (v * 100).toFixed(1) + "%"; }

function statusLabel(s) { return CC.labels.status[s] || s; }

// ------------------------------------------------------------------ case detail and actions
const ACTION_FIELDS = {
  return: ["reason"], redispatch: ["unit_code", "reason"], arbitrate: ["reason"],
  decide_arbitration: ["unit_code", "reason"], request_extension: ["hours", "reason"],
  reject_extension: ["reason"], send_back: ["reason"], reopen: ["reason"], exclude_kpi: ["reason"],
  feedback: ["text", "resolved"], resolve_on_call: ["text"], note: ["text"], dispatch: ["unit_code"],
  evaluate: ["satisfaction", "resolved"], reclassify: ["matter_code"], merge: ["into"],
};

let unitCache = null;
async function units() {
  if (!unitCache) unitCache = await api("/api/units");
  return unitCache;
}

function fieldInput(name, units) {
  if (name === "unit_code") {
    return el("select", { name }, el("option", { value: "", text: t("agent.choose") }),
      units.map((u) => el("option", { value: u.code, text: `${u.name}（${u.code}）` })));
  }
  if (name === "satisfaction") {
    return el("select", { name }, ["satisfied", "basic", "unsatisfied"].map((s) => el("option", { value: s, text: t("sat." + s) })));
  }
  if (name === "resolved") {
    return el("select", { name }, el("option", { value: "true", text: t("common.yes") }), el("option", { value: "false", text: t("common.no") }));
  }
  if (name === "text") return el("textarea", { name });
  if (name === "hours") return el("input", { name, type: "number", min: "1", value: "24" });
  return el("input", { name });
}

async function actionForm(number, action, onDone) {
  const fields = ACTION_FIELDS[action] || [];
  const us = fields.includes("unit_code") ? await units() : [];
  const form = el("form", { class: "action-form", "data-action": action },
    fields.map((f) => el("div", {}, el("label", { text: t("field." + f) }), fieldInput(f, us))),
    el("div", { class: "row" }, el("button", { type: "submit", class: "primary", text: CC.labels.action[action] || action })));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const body = { action };
    for (const f of fields) {
      const v = form.elements[f].value;
      if (v === "") continue;
      body[f] = f === "hours" ? Number(v) : f === "resolved" ? v === "true" : v;
    }
    await guarded(async () => {
      await api(`/api/cases/${encodeURIComponent(number)}/transitions`, { body });
      toast(t("common.ok") + "：" + (CC.labels.action[action] || action));
      if (onDone) onDone();
    });
  });
  return form;
}

async function showCase(number, onChange) {
  const c = await api(`/api/cases/${encodeURIComponent(number)}`);
  const close = () => modal.remove();
  const actions = el("div", { class: "row" });
  const formHolder = el("div", {});
  for (const a of c.allowed_actions) {
    actions.append(el("button", {
      "data-action": a, text: CC.labels.action[a] || a,
      onclick: async () => {
        fill(formHolder, await actionForm(c.number, a, () => { close(); if (onChange) onChange(); }));
      },
    }));
  }
  const timeline = el("table", {}, el("tr", {}, ["created_at", "action", "status", "unit", "reason"].map((h) =>
    el("th", { text: { created_at: t("case.created_at"), action: t("case.action"), status: t("case.status"), unit: t("case.unit"), reason: t("case.reason") }[h] }))),
    (c.timeline || []).map((e) => el("tr", {},
      el("td", { text: fmtTime(e.created_at) }), el("td", { text: e.action_label || e.action }),
      el("td", { text: statusLabel(e.to_status) }), el("td", { text: e.unit_code || "" }), el("td", { text: e.reason || "" }))));
  const modal = el("div", { class: "modal", id: "case-modal", onclick: (e) => { if (e.target === modal) close(); } },
    el("div", { class: "card" },
      el("div", { class: "row" }, el("h2", { text: t("case.detail") }), el("button", { text: t("common.close"), onclick: close })),
      el("div", { class: "case-number", text: c.number }),
      el("p", {}, el("span", { class: "badge", id: "case-status", text: c.status_label }), " ",
        c.supervised ? el("span", { class: "badge warn", text: t("case.supervised") }) : null, " ",
        c.kpi_excluded ? el("span", { class: "badge", text: t("case.excluded") }) : null),
      el("p", {}, el("b", { text: t("case.matter") + "：" }), c.matter_code || "—", "　",
        el("b", { text: t("case.unit") + "：" }), c.unit_code || "—", "　",
        el("b", { text: t("case.due_at") + "：" }), fmtTime(c.due_at) || "—"),
      el("p", {}, el("b", { text: t("case.description") + "：" }), c.description),
      c.feedback_text ? el("p", {}, el("b", { text: t("case.feedback") + "：" }), c.feedback_text) : null,
      el("h2", { text: t("case.timeline") }), timeline,
      el("h2", { text: t("case.actions") }), actions, formHolder));
  document.body.append(modal);
  return modal;
}
