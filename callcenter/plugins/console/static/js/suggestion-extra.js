// Suggestion extras (issue 16): request type (诉求类型) and a second request (一件多诉) under the
// suggestion box. Additive: wraps showSuggestion of agent.js and only appends; fields absent from an
// older suggestion are simply not shown.
(function () {
  const base = window.showSuggestion;
  if (typeof base !== "function") return;
  window.showSuggestion = async function (s) {
    await base(s);
    const box = document.getElementById("suggestion");
    if (!box || !s) return;
    if (s.request_type) {
      box.append(el("p", { id: "sug-request-type" }, el("b", { text: t("agent.request_type", "诉求类型") + "：" }),
        el("span", { class: "badge", text: s.request_type })));
    }
    const second = s.second_request;
    if (second && second.matter) {
      box.append(el("p", { id: "sug-second-request" },
        el("b", { text: t("agent.second_request", "另一诉求") + "：" }),
        el("span", { text: `${second.category_name} · ${second.matter.name}（${second.matter.code}）` }), " ",
        el("span", { class: "muted", text: second.sentence })));
    }
  };
})();
