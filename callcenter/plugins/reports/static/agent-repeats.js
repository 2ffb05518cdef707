// Agent screen-pop addition of the reports plugin: when a call pops, show the matters this caller
// reported again (屡诉) and whether they came back after a closure at the same place (屡治屡返).
// Reads the current call from agent.js (A.call) without changing it.
"use strict";

(() => {
  let shown = null;
  const host = () => document.getElementById("pop-repeat");
  async function check() {
    if (typeof A === "undefined" || !A.call || A.call === shown || !host()) return;
    const uniqueid = A.call;
    shown = uniqueid;
    let box = document.getElementById("pop-repeats");
    if (!box) {
      box = el("p", { id: "pop-repeats", class: "hidden" });
      host().parentElement.after(box);
    }
    try {
      const r = await api(`/api/reports/repeats/call/${encodeURIComponent(uniqueid)}`);
      if (A.call !== uniqueid) return;
      fill(box, r.repeats.map((g) => el("span", { class: "badge bad repeat-hint" },
        `${t("reports.repeat_caller", "屡诉")}：${g.matter_name} ${g.count}次` +
        (g.came_back_after_closure ? `（${t("reports.came_back", "办结后再诉")}）` : ""))));
      box.classList.toggle("hidden", r.repeats.length === 0);
    } catch (e) { shown = null; }  // the call row may not be written yet: try again
  }
  setInterval(check, 1000);
})();
