// Call recordings in the case detail (工单详情 · 通话录音): when the console opens the case dialog
// (#case-modal), ask /api/recordings/case/<number>; roles not allowed to listen get nothing shown.
// Each <audio> plays /api/recordings/<id>/audio (login cookie; every playback is audited server-side).
"use strict";

(function () {
  let texts = {};
  const tx = (k) => texts[k] || k;
  fetch("/recordings/zh-CN.json").then((r) => r.json()).then((j) => { texts = j; }).catch(() => {});

  function fmt(iso) { return iso ? new Date(iso).toLocaleString("zh-CN", { hour12: false }) : ""; }

  async function decorate(modal) {
    if (modal.dataset.recordings) return;
    modal.dataset.recordings = "1";
    const numEl = modal.querySelector(".case-number");
    const number = numEl && numEl.textContent.trim();
    if (!number) return;
    let data;
    try {
      data = await api("/api/recordings/case/" + encodeURIComponent(number), { noRedirect: true });
    } catch (e) {
      return; // 403: this role may not listen; 404: no such case
    }
    const card = modal.querySelector(".card") || modal;
    const box = document.createElement("section");
    box.id = "case-recordings";
    const h = document.createElement("h2");
    h.textContent = tx("title");
    box.append(h);
    if (!data.recordings.length) {
      const p = document.createElement("p"); p.className = "muted"; p.textContent = tx("none"); box.append(p);
    }
    for (const r of data.recordings) {
      const row = document.createElement("div");
      row.className = "recording";
      row.dataset.recording = r.id;
      const label = document.createElement("span");
      label.textContent = `${fmt(r.started_at)}　${r.caller_number || ""}　${tx("agent")}：${r.agent || "—"}　${r.duration_s.toFixed(1)} ${tx("seconds")}`;
      row.append(label, document.createElement("br"));
      if (r.url) {
        const audio = document.createElement("audio");
        audio.controls = true; audio.preload = "none"; audio.src = r.url;
        row.append(audio);
      } else {
        const gone = document.createElement("span"); gone.className = "muted"; gone.textContent = tx("deleted"); row.append(gone);
      }
      box.append(row);
    }
    card.append(box);
  }

  new MutationObserver((muts) => {
    for (const m of muts) for (const n of m.addedNodes) {
      if (n.nodeType === 1 && n.id === "case-modal") decorate(n);
    }
  }).observe(document.body, { childList: true });
})();
