// Agent console (坐席工作台): state from Asterisk's events, screen-pop, live transcript, suggestion,
// case creation with confirmation / correction of the suggestion, call control, search.
"use strict";

const A = {
  me: null,            // my queue member entry from the wallboard (Asterisk's view), or null
  call: null,          // uniqueid of the call on screen
  pop: null,           // screen-pop data
  suggestion: null,    // suggestion shown
  finals: [],          // final transcript lines
  partial: "",
  transcriptSource: null,
  descriptionEdited: false,
  matters: [],
};

function myInterface() { return CC.config.user.interface; }

// ------------------------------------------------------------------ my state
function renderMyState() {
  const node = document.getElementById("my-state");
  let state = A.me ? A.me.state : "out";
  if (state === "wrapup" && A.me.wrapup_until && new Date(A.me.wrapup_until) < new Date()) state = "idle";
  node.className = "state state-" + state;
  node.dataset.state = state;
  let label = t("agent_state." + state);
  if (state === "paused" && A.me.paused_reason) label += "（" + t("pause." + A.me.paused_reason, A.me.paused_reason) + "）";
  node.textContent = label;
  document.getElementById("my-state-time").textContent = A.me && A.me.since ? fmtDuration(since(A.me.since)) : "";
  const wrap = document.getElementById("wrapup");
  if (state === "wrapup") {
    wrap.classList.remove("hidden");
    document.getElementById("wrapup-left").textContent = fmtDuration(-since(A.me.wrapup_until) + 1);
  } else wrap.classList.add("hidden");
  document.getElementById("btn-join").disabled = !!A.me;
  document.getElementById("btn-leave").disabled = !A.me;
  document.getElementById("btn-pause").disabled = !A.me || A.me.paused;
  document.getElementById("btn-resume").disabled = !A.me || !A.me.paused;
}

function onWallboard(board) {
  A.me = (board.agents || []).find((a) => a.interface === myInterface()) || null;
  renderMyState();
}

async function command(path, body) {
  await guarded(async () => {
    await api(path, { body });
    toast(t("common.ok"));
  });
}

// ------------------------------------------------------------------ screen-pop
async function openCall(uniqueid, attempt = 0) {
  if (A.call === uniqueid && attempt === 0) return;
  A.call = uniqueid;
  A.finals = []; A.partial = ""; A.suggestion = null; A.descriptionEdited = false; A.matterManual = false; A.placeManual = false; A.unitManual = false;
  document.getElementById("result").classList.add("hidden");
  document.getElementById("case-form").reset();
  let pop;
  try { pop = await api(`/api/console/screen-pop/${encodeURIComponent(uniqueid)}`); }
  catch (e) {
    // the bridge writes the call row right after the event; retry for a few seconds
    if (e.status === 404 && attempt < 20 && A.call === uniqueid) { setTimeout(() => openCall(uniqueid, attempt + 1), 500); return; }
    throw e;
  }
  A.pop = pop;
  document.getElementById("pop-empty").classList.add("hidden");
  document.getElementById("pop-body").classList.remove("hidden");
  document.getElementById("pop-number").textContent = pop.call.caller_number || "—";
  document.getElementById("pop-name").textContent = pop.call.caller_name || "—";
  document.getElementById("pop-dialled").textContent = pop.call.dialled_number || "—";
  document.getElementById("pop-prior").textContent = pop.prior_calls;
  document.getElementById("pop-repeat").classList.toggle("hidden", !pop.repeat_caller);
  caseTable(document.getElementById("pop-open"), pop.open_cases);
  caseTable(document.getElementById("pop-past"), pop.past_cases);
  A.finals = pop.transcript.map((u) => u.text);
  renderTranscript();
  if (pop.suggestion) showSuggestion(pop.suggestion);
  followTranscript(uniqueid);
}

function caseTable(table, rows) {
  fill(table, el("tr", {}, el("th", { text: t("case.number") }), el("th", { text: t("case.status") }), el("th", { text: t("case.description") })),
    rows.length ? rows.map((c) => el("tr", {},
      el("td", {}, el("a", { href: "#", text: c.number, onclick: (e) => { e.preventDefault(); showCase(c.number); } })),
      el("td", { text: c.status_label }), el("td", { text: (c.description || "").slice(0, 40) })))
      : el("tr", {}, el("td", { colspan: "3", class: "muted", text: t("common.none") })));
}

function followTranscript(uniqueid) {
  if (A.transcriptSource) A.transcriptSource.close();
  const src = new EventSource(`/api/console/calls/${encodeURIComponent(uniqueid)}/live`, { withCredentials: true });
  A.transcriptSource = src;
  src.onmessage = (m) => {
    const msg = JSON.parse(m.data);
    if (msg.type === "transcript.partial") { A.partial = msg.data.text || ""; }
    else if (msg.type === "transcript.final") {
      const seq = msg.data.seq;
      if (!A.finals.includes(msg.data.text) || seq === undefined) A.finals.push(msg.data.text);
      A.partial = "";
    } else if (msg.type === "suggestion.ready") {
      // the pipeline also announces the suggestion on the call's own stream
      showSuggestion(Object.assign({}, msg.data, { id: msg.data.suggestion_id || msg.data.id }));
      return;
    }
    renderTranscript();
  };
}

function evidenceWords() {
  const ev = (A.suggestion && A.suggestion.evidence) || [];
  return ev.map((w) => (typeof w === "string" ? w : (w.word || w.text || w.term || ""))).filter((w) => w && w.length);
}

function highlight(text) {
  let html = escapeHtml(text);
  for (const w of evidenceWords().sort((a, b) => b.length - a.length)) {
    const safe = escapeHtml(w).replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    html = html.replace(new RegExp(safe, "g"), (m) => `<mark>${m}</mark>`);
  }
  return html;
}

function renderTranscript() {
  const box = document.getElementById("transcript");
  fill(box, ...A.finals.map((line) => el("div", { class: "final", html: highlight(line) })),
    A.partial ? el("div", { class: "partial", text: A.partial }) : "");
  box.scrollTop = box.scrollHeight;
  const desc = document.getElementById("f-description");
  if (!A.descriptionEdited && A.finals.length) desc.value = A.finals.join("");
}

// ------------------------------------------------------------------ suggestion
function areaCode(v) {
  if (!v) return null;
  if (typeof v === "object") return v.code || null;
  return /^\d+$/.test(String(v)) ? String(v) : null;
}
function areaName(v) {
  if (!v) return "";
  if (typeof v === "object") return v.name || v.code || "";
  return String(v);
}

async function showSuggestion(s) {
  A.suggestion = s;
  const box = document.getElementById("suggestion");
  const matters = (s.matters || []).slice(0, 3);
  // no matter recognised (out-of-domain speech such as greetings or chit-chat, or unusable text):
  // say so instead of an empty top-3 list; the agent fills the form by hand
  const noMatter = !matters.length;
  fill(box, 
    el("div", { class: "muted", text: t(noMatter ? "agent.no_matter" : "agent.matters_top3") }),
    noMatter && (s.no_suggestion_reason || s.message) ? el("p", { class: "muted", id: "sug-no-matter",
      text: t("suggest.reason." + s.no_suggestion_reason, t("suggest.reason.other")) }) : "",
    matters.map((m, i) => el("div", { class: "matter" + (i === 0 ? " chosen" : ""), "data-code": m.code,
      onclick: () => chooseMatter(m.code) },
      el("b", { text: `${i + 1}. ${m.name || m.code}` }), " ",
      el("span", { class: "muted", text: `${m.code}${m.category ? " · " + m.category : ""}` }), " ",
      el("span", { class: "badge", text: `${t("agent.score")} ${(Number(m.score || 0) * 100).toFixed(0)}%` }))),
    el("p", {}, el("b", { text: t("agent.evidence") + "：" }),
      evidenceWords().map((w) => el("mark", { text: w })).reduce((acc, n) => acc.concat([n, " "]), [])),
    el("p", {}, el("b", { text: t("agent.place") + "：" }), el("span", { id: "sug-place",
      text: ["district", "street", "community"].map((k) => areaName((s.area || {})[k])).filter(Boolean).join(" / ") || "—" })),
    el("p", {}, el("b", { text: t("agent.owner_unit") + "：" }), s.unit ? (s.unit.name || s.unit.code) : "—",
      s.auto_dispatch ? el("span", { class: "badge ok", text: t("agent.auto_dispatch") }) : ""));
  renderTranscript();
  // prefill the form with the top suggestion; the agent confirms or corrects it
  ensureMatterOptions(matters);
  if (matters[0] && !A.matterManual) chooseMatter(matters[0].code);
  else if (A.matterManual) chooseMatter(document.getElementById("f-matter").value);
  const area = s.area || {};
  if (!A.placeManual) await setArea(areaCode(area.district), areaCode(area.street), areaCode(area.community));
  const names = ["f-district", "f-street", "f-community"].map((id) => document.getElementById(id))
    .filter((sel) => sel.value).map((sel) => sel.options[sel.selectedIndex].text);
  if (names.length) document.getElementById("sug-place").textContent = names.join(" / ");
  if (s.unit && s.unit.code && !A.unitManual) document.getElementById("f-unit").value = s.unit.code;
}

function ensureMatterOptions(extra) {
  const sel = document.getElementById("f-matter");
  for (const m of extra) {
    if (![...sel.options].some((o) => o.value === m.code)) sel.append(el("option", { value: m.code, text: `${m.name || m.code}（${m.code}）` }));
  }
}

function chooseMatter(code) {
  const sel = document.getElementById("f-matter");
  sel.value = code;
  sel.dispatchEvent(new Event("change"));
  document.querySelectorAll("#suggestion .matter").forEach((n) => n.classList.toggle("chosen", n.dataset.code === code));
}

// ------------------------------------------------------------------ areas, units, matters
async function fillSelect(sel, rows, value) {
  fill(sel, el("option", { value: "", text: t("agent.choose") }), rows.map((r) => el("option", { value: r.code, text: r.name })));
  if (value) sel.value = value;
}

async function setArea(district, street, community) {
  const d = document.getElementById("f-district"), s = document.getElementById("f-street"), c = document.getElementById("f-community");
  if (district) d.value = district;
  if (d.value) await fillSelect(s, await api(`/api/areas?parent=${d.value}`), street);
  if (s.value) await fillSelect(c, await api(`/api/areas?parent=${s.value}`), community);
}

async function loadCatalogue() {
  A.matters = await api("/api/catalogue/matters");
  const sel = document.getElementById("f-matter");
  fill(sel, el("option", { value: "", text: t("agent.choose") }), A.matters.map((m) => el("option", { value: m.code, text: `${m.name}（${m.code}）` })));
  await fillSelect(document.getElementById("f-district"), await api("/api/areas?level=district"));
  const us = await units();
  await fillSelect(document.getElementById("f-unit"), us.map((u) => ({ code: u.code, name: `${u.name}（${u.code}）` })));
  const kind = document.getElementById("f-kind");
  fill(kind, ...["request", "complaint", "consultation", "report", "suggestion", "praise"].map((k) => el("option", { value: k, text: t("kind." + k) })));
  const pr = document.getElementById("f-priority");
  fill(pr, ...["normal", "urgent", "emergency"].map((k) => el("option", { value: k, text: t("priority." + k) })));
  document.getElementById("f-district").addEventListener("change", async (e) => {
    await fillSelect(document.getElementById("f-street"), e.target.value ? await api(`/api/areas?parent=${e.target.value}`) : []);
    await fillSelect(document.getElementById("f-community"), []);
  });
  document.getElementById("f-street").addEventListener("change", async (e) => {
    await fillSelect(document.getElementById("f-community"), e.target.value ? await api(`/api/areas?parent=${e.target.value}`) : []);
  });
}

// ------------------------------------------------------------------ case creation
function caseBody(register) {
  const v = (id) => document.getElementById(id).value || null;
  const phone = A.pop && A.pop.call.caller_number && /^[0-9+\-]{3,32}$/.test(A.pop.call.caller_number) ? A.pop.call.caller_number : null;
  const body = {
    description: document.getElementById("f-description").value,
    matter_code: v("f-matter"), district_code: v("f-district"), street_code: v("f-street"), community_code: v("f-community"),
    address: document.getElementById("f-address").value, kind: v("f-kind") || "request", priority: v("f-priority") || "normal",
    caller_phone: phone, caller_name: A.pop && A.pop.call.caller_name ? A.pop.call.caller_name.slice(0, 64) : null,
    hotline: A.pop ? A.pop.call.dialled_number : null, call_uniqueid: A.call, register,
  };
  if (register && v("f-unit")) body.dispatch_unit_code = v("f-unit");
  if (A.suggestion && A.suggestion.id) body.suggestion_id = A.suggestion.id;
  for (const k of Object.keys(body)) if (body[k] === null) delete body[k];
  return body;
}

function showResult(c) {
  document.getElementById("result").classList.remove("hidden");
  document.getElementById("case-number").textContent = c.number;
  document.getElementById("case-status-label").textContent = c.status_label;
}

async function createCase(register) {
  await guarded(async () => {
    const c = await api("/api/cases", { body: caseBody(register) });
    showResult(c);
  });
}

async function resolveOnCall() {
  const answer = document.getElementById("f-answer").value.trim();
  if (!answer) { toast(t("agent.answer") + "？", true); return; }
  await guarded(async () => {
    const body = caseBody(false);
    body.kind = "consultation";
    const c = await api("/api/cases", { body });
    showResult(c);
    // the case exists now; closing it is a second step that can be retried from the case detail
    const closed = await api(`/api/cases/${c.number}/transitions`, { body: { action: "resolve_on_call", text: answer } });
    showResult(closed);
  });
}

// ------------------------------------------------------------------ live re-suggestion
// While the agent types or corrects the description, POST /api/suggest (debounced) and show the new
// suggestion; the stored suggestion of the call (its id) stays the one the case confirms or corrects,
// and a matter the agent picked by hand is kept.
let resuggestTimer = null, resuggestSeq = 0;
function scheduleResuggest() {
  clearTimeout(resuggestTimer);
  resuggestTimer = setTimeout(resuggest, 700);
}
async function resuggest() {
  const text = document.getElementById("f-description").value.trim();
  if (text.length < 4) return;
  const seq = ++resuggestSeq;
  const phone = A.pop && A.pop.call.caller_number && /^[0-9+\-]{3,32}$/.test(A.pop.call.caller_number) ? A.pop.call.caller_number : null;
  let s;
  try { s = await api("/api/suggest", { body: { text, caller_phone: phone } }); }
  catch (e) {
    if (e.status === 422 && seq === resuggestSeq) showSuggestion({ matters: [], no_suggestion_reason: "no_content", id: A.suggestion && A.suggestion.id });
    return; // 503: no model trained yet — the form works without suggestions
  }
  if (seq !== resuggestSeq) return; // a newer edit is on its way
  const keepId = A.suggestion && A.suggestion.id;
  await showSuggestion(Object.assign({}, s, { id: keepId, live: true }));
  document.getElementById("suggestion").dataset.live = String(seq);
}

// ------------------------------------------------------------------ start
(async () => {
  if (!(await boot(["agent"]))) return;
  const reason = document.getElementById("pause-reason");
  fill(reason, ...CC.config.pause_reasons.map((r) => el("option", { value: r, text: t("pause." + r) })));
  document.getElementById("btn-join").onclick = () => command("/api/console/agent/queue", { join: true });
  document.getElementById("btn-leave").onclick = () => command("/api/console/agent/queue", { join: false });
  document.getElementById("btn-pause").onclick = () => command("/api/console/agent/pause", { paused: true, reason: reason.value });
  document.getElementById("btn-resume").onclick = () => command("/api/console/agent/pause", { paused: false });
  document.getElementById("btn-hangup").onclick = () => A.call && command(`/api/console/calls/${A.call}/hangup`, {});
  document.getElementById("btn-transfer").onclick = () => A.call && command(`/api/console/calls/${A.call}/transfer`, { exten: document.getElementById("transfer-exten").value });
  document.getElementById("btn-callback").onclick = () => {
    const at = document.getElementById("callback-at").value;
    const body = { phone: A.pop && A.pop.call.caller_number, uniqueid: A.call };
    if (at) body.at = new Date(at).toISOString();
    command("/api/console/callbacks", body);
  };
  document.getElementById("case-form").addEventListener("submit", (e) => { e.preventDefault(); createCase(true); });
  document.getElementById("btn-create-only").onclick = () => createCase(false);
  document.getElementById("btn-resolve").onclick = resolveOnCall;
  document.getElementById("f-description").addEventListener("input", () => { A.descriptionEdited = true; });
  renderMyState();
  await loadCatalogue();
  // desk.js: the searchable matter picker, case search, live re-suggestion while the agent edits
  await mountMatterPicker(document.getElementById("f-matter"), { onPick: () => { A.matterManual = true; } });
  await mountCaseSearch(document.getElementById("case-search"));
  document.getElementById("f-description").addEventListener("input", scheduleResuggest);
  // what the agent sets by hand is kept when the suggestion changes
  ["f-district", "f-street", "f-community"].forEach((id) => document.getElementById(id)
    .addEventListener("change", (e) => { if (e.isTrusted) A.placeManual = true; }));
  document.getElementById("f-unit").addEventListener("change", (e) => { if (e.isTrusted) A.unitManual = true; });
  live((m) => {
    const d = m.data || {};
    if ((m.type === "agent.called" || m.type === "agent.connect") && d.interface === myInterface() && d.uniqueid) openCall(d.uniqueid);
    if (m.type === "suggestion.ready" && d.uniqueid && d.uniqueid === A.call) {
      showSuggestion(Object.assign({}, d, { id: d.suggestion_id || d.id }));
    }
  }, { wallboard: true, onWallboard });
  setInterval(renderMyState, 1000);
  const params = new URLSearchParams(location.search);
  if (params.get("call")) openCall(params.get("call"));
})();
