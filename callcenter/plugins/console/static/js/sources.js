// Volumes by intake source (来源) on the supervisor's wallboard and KPI tabs, and the grid workers'
// figures per street. Its own file (issue 17): it adds panels after the existing ones and reads
// /api/console/wallboard (cases_by_source), /api/console/kpi (by_source) and /api/grid/figures.
(function () {
  "use strict";
  const LABELS = {
    phone: "热线电话", web: "网站填报", open311: "Open311 / 小程序", city_dispatch: "市级派单",
    grid: "网格员上报", platform: "平台推送", leader: "领导指派", app: "移动应用", wechat: "微信",
  };
  const esc = (s) => { const d = document.createElement("div"); d.textContent = s == null ? "" : String(s); return d.innerHTML; };
  const pct = (r) => (r && r.value != null ? (r.value * 100).toFixed(1) + "%" : "—");

  function panel(afterId, id, title) {
    let el = document.getElementById(id);
    if (el) return el;
    const anchor = document.getElementById(afterId);
    if (!anchor) return null;
    const card = document.createElement("div");
    card.className = "card";
    card.style.marginTop = "12px";
    card.innerHTML = "<h2>" + esc(title) + "</h2><table id=\"" + id + "\"></table>";
    anchor.parentNode.insertBefore(card, anchor.nextSibling);
    return document.getElementById(id);
  }

  async function today() {
    const t = panel("queues", "sources-today", "今日工单来源");
    if (!t) return;
    try {
      const board = await api("/api/console/wallboard");
      const rows = Object.entries(board.cases_by_source || {});
      t.innerHTML = "<tr><th>来源</th><th>今日受理</th></tr>" + (rows.length
        ? rows.map(([k, n]) => "<tr><td>" + esc(LABELS[k] || k) + "</td><td>" + n + "</td></tr>").join("")
        : "<tr><td colspan=2>—</td></tr>");
    } catch (e) { /* the board shows its own errors */ }
  }

  async function kpis() {
    const t = panel("kpi-overall", "sources-kpi", "按来源统计（三率两度）");
    const g = panel("sources-kpi", "grid-figures", "网格员考核（按街道）");
    if (!t) return;
    const days = (document.getElementById("kpi-days") || {}).value || 30;
    try {
      const rep = await api("/api/console/kpi?days=" + encodeURIComponent(days));
      t.innerHTML = "<tr><th>来源</th><th>工单</th><th>占比</th><th>响应率</th><th>按时办结率</th><th>解决率</th><th>满意率</th></tr>" +
        (rep.by_source || []).map((r) => "<tr><td>" + esc(r.name) + "</td><td>" + r.total + "</td><td>" +
          (r.share * 100).toFixed(1) + "%</td><td>" + pct(r.response) + "</td><td>" + pct(r.on_time) + "</td><td>" +
          pct(r.resolution) + "</td><td>" + pct(r.satisfaction) + "</td></tr>").join("");
    } catch (e) { t.innerHTML = ""; }
    if (!g) return;
    try {
      const figs = await api("/api/grid/figures");
      g.innerHTML = "<tr><th>街道</th><th>上报</th><th>有效上报率</th><th>自处置</th><th>核查任务</th><th>按时核查率</th></tr>" +
        figs.map((f) => "<tr><td>" + esc(f.street_name) + "</td><td>" + f.reports + "</td><td>" +
          (f.valid_rate == null ? "—" : (f.valid_rate * 100).toFixed(1) + "%") + "</td><td>" + f.self_handled +
          "</td><td>" + f.tasks + "</td><td>" + (f.on_time_rate == null ? "—" : (f.on_time_rate * 100).toFixed(1) + "%") +
          "</td></tr>").join("");
    } catch (e) { g.parentNode.hidden = true; } // no grid plugin installed
  }

  function start() {
    if (typeof api !== "function" || !token()) return;
    today(); kpis();
    setInterval(today, 5000);
    const form = document.getElementById("kpi-form");
    if (form) form.addEventListener("submit", () => setTimeout(kpis, 100));
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start); else start();
})();
