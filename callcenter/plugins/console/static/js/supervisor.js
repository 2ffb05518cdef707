// Supervisor console (班长监控台): live wallboard, ChanSpy, arbitration of returned cases, feedback
// verification, extension approval, overdue supervision (督办), KPIs (三率两度) with charts.
"use strict";

const S = { board: null, charts: {} };

// ------------------------------------------------------------------ wallboard
function renderBoard() {
  const b = S.board;
  if (!b) return;
  const qbox = document.getElementById("queues");
  fill(qbox, ...b.queues.map((q) => el("div", { class: "card", "data-queue": q.queue },
    el("h2", { text: `${t("sup.queue")} ${q.queue}` }),
    el("div", { class: "kpis" },
      kpiBox("waiting", q.waiting, t("sup.waiting")),
      kpiBox("longest", q.longest_wait_since ? fmtDuration(since(q.longest_wait_since)) : "00:00", t("sup.longest_wait")),
      kpiBox("sla", q.sla_pct === null ? "—" : q.sla_pct.toFixed(1) + "%", `${t("sup.sla")}（${q.sla_seconds}${t("sup.sla_hint")}）`),
      kpiBox("abandoned", q.abandoned_pct === null ? "—" : q.abandoned_pct.toFixed(1) + "%", `${t("sup.abandoned")}（${q.abandoned}）`),
      kpiBox("handled", q.handled, t("sup.handled")),
      kpiBox("offered", `${q.answered}/${q.offered}`, `${t("sup.answered")}/${t("sup.offered")}`)))));
  const agents = document.getElementById("agents");
  fill(agents, el("tr", {}, ["sup.agent", "sup.state", "sup.time_in_state", "sup.calls_taken", ""].map((k) => el("th", { text: k ? t(k) : "" }))),
    b.agents.map((a) => {
      let state = a.state;
      if (state === "wrapup" && a.wrapup_until && new Date(a.wrapup_until) < new Date()) state = "idle";
      let label = t("agent_state." + state);
      if (state === "paused" && a.paused_reason) label += "（" + t("pause." + a.paused_reason, a.paused_reason) + "）";
      return el("tr", { "data-agent": a.interface },
        el("td", {}, el("b", { text: a.name }), el("div", { class: "muted", text: a.interface })),
        el("td", {}, el("span", { class: "state state-" + state, "data-state": state, text: label })),
        el("td", { text: fmtDuration(since(a.since)) }),
        el("td", { text: a.calls_taken }),
        el("td", {}, ["listen", "whisper", "barge"].map((mode) => el("button", {
          text: t("sup." + mode), disabled: state !== "talking",
          onclick: () => guarded(async () => { await api("/api/console/spy", { body: { agent: a.interface, mode } }); toast(t("common.ok")); }),
        }))));
    }));
  const callers = document.getElementById("callers");
  const rows = b.queues.flatMap((q) => q.callers.map((c) => Object.assign({ queue: q.queue }, c)));
  fill(callers, el("tr", {}, ["sup.queue", "agent.caller", "sup.longest_wait"].map((k) => el("th", { text: t(k) }))),
    rows.map((c) => el("tr", { "data-caller": c.uniqueid }, el("td", { text: c.queue }), el("td", { text: c.caller_number || "—" }),
      el("td", { text: fmtDuration(since(c.since)) }))));
}

function kpiBox(key, value, label) {
  return el("div", { class: "kpi", "data-kpi": key }, el("div", { class: "v", text: value }), el("div", { class: "l", text: label }));
}

// ------------------------------------------------------------------ case lists
async function caseList(tableId, statuses, extra) {
  const params = new URLSearchParams();
  statuses.forEach((s) => params.append("status", s));
  params.set("limit", "200");
  const page = await api("/api/cases?" + params);
  let items = page.items;
  if (extra) items = items.filter(extra);
  const table = document.getElementById(tableId);
  const details = await Promise.all(items.slice(0, 50).map((c) => api(`/api/cases/${c.number}`)));
  fill(table, el("tr", {}, ["case.number", "case.status", "case.unit", "sup.latest_reason", ""].map((k) => el("th", { text: k ? t(k) : "" }))),
    details.map((c) => {
      const last = [...(c.timeline || [])].reverse().find((e) => e.reason);
      return el("tr", { "data-number": c.number },
        el("td", { text: c.number }), el("td", { text: c.status_label }), el("td", { text: typeof named === "function" ? named("units", c.unit_code) : c.unit_code || "" }),
        el("td", { text: last ? `${last.action_label}：${last.reason}` : "" }),
        el("td", {}, el("button", { text: t("case.detail"), onclick: () => showCase(c.number, loadCases) })));
    }));
}

async function loadCases() {
  await caseList("arbitration", ["returned", "arbitration"]);
  await caseList("verification", ["feedback"]);
  await caseList("extensions", ["accepted"], (c) => c.extension_hours_requested);
}

async function loadOverdue() {
  const rows = await api("/api/console/overdue");
  const table = document.getElementById("overdue");
  fill(table, el("tr", {}, ["case.number", "case.unit", "case.status", "sup.overdue", "sup.overdue_hours", "case.description", ""].map((k) => el("th", { text: k ? t(k) : "" }))),
    rows.map((r) => el("tr", { "data-number": r.number, class: "overdue" },
      el("td", {}, el("a", { href: "#", text: r.number, onclick: (e) => { e.preventDefault(); showCase(r.number, loadOverdue); } })),
      el("td", { text: r.unit_name || r.unit_code || "" }), el("td", { text: statusLabel(r.status) }),
      el("td", { text: t("sup.overdue_kind." + r.kind) }), el("td", { text: r.overdue_hours }), el("td", { text: r.description }),
      el("td", {}, r.supervised ? el("span", { class: "badge warn", text: t("case.supervised") })
        : el("button", { class: "primary", text: t("sup.supervise"), onclick: () => guarded(async () => {
          await api(`/api/cases/${r.number}/transitions`, { body: { action: "supervise" } });
          toast(t("common.ok")); loadOverdue();
        }) })))));
}

// ------------------------------------------------------------------ callbacks (回拨 / 回访)
async function loadCallbacks() {
  const rows = await api("/api/console/callbacks?limit=200");
  const table = document.getElementById("callbacks");
  const survey = (r) => r.survey
    ? [r.survey.resolved === true ? t("cb.resolved") : r.survey.resolved === false ? t("cb.unresolved") : "",
      r.survey.satisfaction ? t("cb.satisfaction." + r.survey.satisfaction) : "", r.survey.method ? t("cb.method." + r.survey.method, r.survey.method) : ""].filter(Boolean).join(" · ")
    : "";
  fill(table, el("tr", {}, ["cb.kind", "cb.status", "cb.phone", "case.number", "cb.attempts", "cb.result", "cb.survey", "cb.next"].map((k) => el("th", { text: t(k) }))),
    rows.map((r) => el("tr", { "data-callback": r.id, "data-status": r.status },
      el("td", { text: t("cb.kind." + r.kind) + (r.visit > 1 ? " (" + t("cb.second_visit") + ")" : "") }),
      el("td", { text: t("cb.status." + r.status) + (r.phase ? " · " + t("cb.phase." + r.phase, r.phase) : "") }),
      el("td", { text: r.phone }), el("td", { text: r.case_number || "" }),
      el("td", { text: `${r.attempts}/${r.max_attempts}` }), el("td", { text: r.last_result ? t("cb.result." + r.last_result, r.last_result) : "" }),
      el("td", { text: survey(r) }),
      el("td", { text: r.status === "scheduled" && r.next_attempt_at ? new Date(r.next_attempt_at).toLocaleString("zh-CN") : "" }))));
}

// ------------------------------------------------------------------ KPIs
function chart(id, option) {
  if (!window.echarts) return;
  const node = document.getElementById(id);
  if (!S.charts[id]) S.charts[id] = window.echarts.init(node);
  S.charts[id].setOption(Object.assign({ animation: false }, option), true);
}

function freqTable(id, rows) {
  fill(document.getElementById(id), el("tr", {}, ["sup.name", "sup.count", "sup.share"].map((k) => el("th", { text: t(k) }))),
    rows.map((r) => el("tr", {}, el("td", { text: r.name }), el("td", { text: r.count }), el("td", { text: pct(r.share) }))));
}

async function loadKpi(e) {
  if (e) e.preventDefault();
  const by = document.getElementById("kpi-by").value, period = document.getElementById("kpi-period").value;
  const days = document.getElementById("kpi-days").value || "30";
  const r = await guarded(() => api(`/api/console/kpi?by=${by}&period=${period}&days=${days}`));
  document.getElementById("charts-missing").classList.toggle("hidden", !!window.echarts);
  const o = r.overall;
  fill(document.getElementById("kpi-overall"), 
    kpiBox("total", o.total, t("sup.total")), kpiBox("response", pct(o.response.value), t("sup.response")),
    kpiBox("on_time", pct(o.on_time.value), t("sup.on_time")), kpiBox("resolution", pct(o.resolution.value), t("sup.resolution")),
    kpiBox("satisfaction", pct(o.satisfaction.value), t("sup.satisfaction")), kpiBox("excluded", o.excluded, t("sup.excluded")));
  const periods = Object.keys(r.rankings).sort();
  const latest = periods[periods.length - 1];
  const cards = latest ? r.rankings[latest] : [];
  document.getElementById("rank-title").textContent = `${t("sup.kpi_period." + period)} ${latest || ""}（${t("sup.kpi_by." + by)}）`;
  fill(document.getElementById("rank-table"), el("tr", {}, ["sup.rank", "sup.name", "sup.total", "sup.response", "sup.on_time", "sup.resolution", "sup.satisfaction", "sup.score"].map((k) => el("th", { text: t(k) }))),
    cards.map((c) => el("tr", { "data-key": c.key }, el("td", { text: c.rank ?? "—" }), el("td", { text: c.name }), el("td", { text: `${c.total}${c.excluded ? "（-" + c.excluded + "）" : ""}` }),
      el("td", { text: pct(c.response.value) }), el("td", { text: pct(c.on_time.value) }), el("td", { text: pct(c.resolution.value) }),
      el("td", { text: pct(c.satisfaction.value) }), el("td", { text: c.score === null ? "—" : (c.score * 100).toFixed(1) }))));
  freqTable("hf-matters", r.high_frequency_matters);
  freqTable("hf-streets", r.high_frequency_streets);
  freqTable("hf-communities", r.high_frequency_communities);
  const scored = cards.filter((c) => c.score !== null);
  chart("chart-rank", { tooltip: {}, grid: { left: 140 }, xAxis: { type: "value", max: 100 },
    yAxis: { type: "category", inverse: true, data: scored.map((c) => c.name) },
    series: [{ type: "bar", name: t("sup.score"), data: scored.map((c) => +(c.score * 100).toFixed(1)) }] });
  const names = r.trend.length ? Object.keys(r.trend[0].series) : [];
  chart("chart-trend", { tooltip: { trigger: "axis" }, legend: { data: [t("sup.count"), ...names] },
    xAxis: { type: "category", data: r.trend.map((p) => p.day.slice(5)) }, yAxis: { type: "value", minInterval: 1 },
    series: [{ type: "line", name: t("sup.count"), data: r.trend.map((p) => p.count) },
      ...names.map((n) => ({ type: "bar", stack: "m", name: n, data: r.trend.map((p) => p.series[n]) }))] });
  chart("chart-matters", { tooltip: {}, series: [{ type: "pie", radius: ["35%", "65%"], data: r.high_frequency_matters.map((m) => ({ name: m.name, value: m.count })) }] });
  chart("chart-streets", { tooltip: {}, grid: { left: 120 }, xAxis: { type: "value", minInterval: 1 },
    yAxis: { type: "category", inverse: true, data: r.high_frequency_streets.map((s) => s.name) },
    series: [{ type: "bar", data: r.high_frequency_streets.map((s) => s.count) }] });
}

// ------------------------------------------------------------------ start
(async () => {
  if (!(await boot(["supervisor"]))) return;
  document.querySelectorAll("nav.tabs button").forEach((btn) => btn.addEventListener("click", () => {
    document.querySelectorAll("nav.tabs button").forEach((b) => b.classList.toggle("active", b === btn));
    document.querySelectorAll('main > section[id^="tab-"]').forEach((sec) => sec.classList.toggle("hidden", sec.id !== "tab-" + btn.dataset.tab));
    if (btn.dataset.tab === "cases") loadCases();
    if (btn.dataset.tab === "overdue") loadOverdue();
    if (btn.dataset.tab === "kpi") loadKpi();
    if (btn.dataset.tab === "callbacks") loadCallbacks();
  }));
  fill(document.getElementById("kpi-by"), ...["unit", "street"].map((k) => el("option", { value: k, text: t("sup.kpi_by." + k) })));
  fill(document.getElementById("kpi-period"), ...["day", "month"].map((k) => el("option", { value: k, text: t("sup.kpi_period." + k) })));
  document.getElementById("kpi-form").addEventListener("submit", loadKpi);
  if (typeof mountCaseSearch === "function") await mountCaseSearch(document.getElementById("case-search"));
  S.board = await api("/api/console/wallboard");
  renderBoard();
  let pending = null;
  live((m) => {
    if (m.stream === "K" && !document.getElementById("tab-cases").classList.contains("hidden")) {
      clearTimeout(pending); pending = setTimeout(loadCases, 200);
    }
    if (m.stream === "B" && !document.getElementById("tab-callbacks").classList.contains("hidden")) {
      clearTimeout(pending); pending = setTimeout(loadCallbacks, 200);
    }
  }, { wallboard: true, onWallboard: (b) => { S.board = b; renderBoard(); } });
  setInterval(renderBoard, 1000);
})();
