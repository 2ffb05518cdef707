// Supervisor console additions of the reports plugin: a "报告" tab (list, generate, download PDF / XLSX)
// and the repeat-complaint list (重复诉求: 屡诉 / 屡治屡返 / 多人反映). Uses common.js (api, el, fill, t).
"use strict";

(() => {
  const nav = document.querySelector("nav.tabs");
  const main = document.querySelector("main");
  if (!nav || !main) return;
  const KINDS = { daily: "日报", weekly: "周报", monthly: "月报", range: "任意时段" };
  const button = el("button", { "data-tab": "reports", text: t("reports.tab", "报告") });
  nav.append(button);
  const section = el("section", { id: "tab-reports", class: "hidden" },
    el("div", { class: "card" },
      el("h2", { text: t("reports.title", "报告（日报 / 周报 / 月报）") }),
      el("form", { id: "report-form", class: "row" },
        el("div", {}, el("label", { text: t("reports.kind", "类型") }),
          el("select", { id: "report-kind" }, ...Object.entries(KINDS).map(([k, v]) => el("option", { value: k, text: v })))),
        el("div", {}, el("label", { text: t("reports.start", "开始日期") }), el("input", { id: "report-start", type: "date" })),
        el("div", {}, el("label", { text: t("reports.end", "结束日期") }), el("input", { id: "report-end", type: "date" })),
        el("div", {}, el("button", { type: "submit", id: "report-generate", text: t("reports.generate", "生成报告") }))),
      el("p", { id: "report-status", class: "muted" }),
      el("table", { id: "report-list" })),
    el("div", { class: "card" },
      el("h2", { text: t("reports.repeats", "重复诉求（屡诉 / 屡治屡返 / 多人反映）") }),
      el("table", { id: "repeat-list" })));
  main.append(section);

  nav.querySelectorAll("button").forEach((b) => b.addEventListener("click", () => {
    const mine = b === button;
    section.classList.toggle("hidden", !mine);
    if (mine) {
      nav.querySelectorAll("button").forEach((o) => o.classList.toggle("active", o === button));
      document.querySelectorAll("main > section").forEach((s) => { if (s !== section) s.classList.add("hidden"); });
      loadReports(); loadRepeats();
    }
  }));

  async function download(url, name) {
    const res = await fetch(url, { headers: { Authorization: "Bearer " + token() } });
    if (!res.ok) { document.getElementById("report-status").textContent = `下载失败：${res.status}`; return; }
    const blob = await res.blob();
    const a = el("a", { href: URL.createObjectURL(blob), download: name });
    document.body.append(a); a.click(); a.remove();
  }

  async function loadReports() {
    const rows = await api("/api/reports");
    fill(document.getElementById("report-list"),
      el("tr", {}, ...["编号", "类型", "统计周期", "生成方式", "状态", "摘要", "下载"].map((h) => el("th", { text: h }))),
      rows.length ? rows.map((r) => el("tr", { class: "report-row" },
        el("td", { text: String(r.id) }), el("td", { text: KINDS[r.kind] || r.kind }),
        el("td", { text: `${r.period_start} 至 ${r.period_end}` }),
        el("td", { text: r.requested_by === "schedule" ? "定时" : r.requested_by }),
        el("td", { text: r.status === "done" ? "已完成" : (r.status === "failed" ? "失败" : "生成中") }),
        el("td", { text: (r.summary || r.error || "").split("\n")[0] }),
        el("td", {},
          r.pdf_url ? el("a", { href: "#", class: "dl-pdf", text: "PDF", onclick: (e) => { e.preventDefault(); download(r.pdf_url, `report-${r.id}.pdf`); } }) : null,
          " ",
          r.xlsx_url ? el("a", { href: "#", class: "dl-xlsx", text: "XLSX", onclick: (e) => { e.preventDefault(); download(r.xlsx_url, `report-${r.id}.xlsx`); } }) : null)))
        : el("tr", {}, el("td", { colspan: "7", class: "muted", text: t("common.none", "无") })));
  }

  async function loadRepeats() {
    const rows = await api("/api/reports/repeats?days=30");
    fill(document.getElementById("repeat-list"),
      el("tr", {}, ...["类型", "来电人或地点", "事项", "件数", "办结后再诉", "最近", "工单号"].map((h) => el("th", { text: h }))),
      rows.length ? rows.slice(0, 100).map((g) => el("tr", { class: "repeat-row" },
        el("td", { text: g.kind_label }), el("td", { text: g.where }), el("td", { text: g.matter_name || "" }),
        el("td", { text: String(g.count) }), el("td", { text: String(g.returns) }),
        el("td", { text: g.last_at.slice(0, 10) }),
        el("td", {}, ...g.numbers.slice(0, 5).map((n) => el("a", { href: "#", text: n + " ",
          onclick: (e) => { e.preventDefault(); if (typeof showCase === "function") showCase(n); } })))))
        : el("tr", {}, el("td", { colspan: "7", class: "muted", text: t("common.none", "无") })));
  }

  document.getElementById("report-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const status = document.getElementById("report-status");
    const body = { kind: document.getElementById("report-kind").value };
    const start = document.getElementById("report-start").value;
    const end = document.getElementById("report-end").value;
    if (start) body.start = start;
    if (end) body.end = end;
    status.textContent = "正在生成……";
    try {
      let r = await api("/api/reports", { body });
      loadReports();
      for (let i = 0; i < 300 && r.status === "pending"; i++) {  // built in the background: poll
        await new Promise((ok) => setTimeout(ok, 1000));
        r = await api(`/api/reports/${r.id}`);
      }
      status.textContent = r.status === "done" ? `已生成报告 ${r.id}（${r.period_start} 至 ${r.period_end}）`
        : `生成失败：${r.error || r.status}`;
    } catch (err) { status.textContent = `生成失败：${err.message}`; }
    loadReports();
  });
})();
