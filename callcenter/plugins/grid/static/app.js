/* Grid worker app (网格员): reports with photos, an offline queue in IndexedDB, check tasks.
 * A report gets its id (client_uuid) when it is written; the queue sends it when the network is there
 * and forgets it once the server answered (201 new, 200 already received) — so a report written
 * offline arrives once, however often the sending is retried. */
(function () {
  "use strict";
  var TOKEN_KEY = "cc_grid_token";
  var token = localStorage.getItem(TOKEN_KEY);
  var loc = null; // {lat, lon}
  var $ = function (id) { return document.getElementById(id); };

  function uuid() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    return "g" + Date.now().toString(36) + "-" + Math.random().toString(36).slice(2, 14);
  }

  // --- IndexedDB queue --------------------------------------------------------------------------
  var dbp = null;
  function db() {
    if (!dbp) {
      dbp = new Promise(function (resolve, reject) {
        var req = indexedDB.open("grid-outbox", 1);
        req.onupgradeneeded = function () { req.result.createObjectStore("reports", { keyPath: "client_uuid" }); };
        req.onsuccess = function () { resolve(req.result); };
        req.onerror = function () { reject(req.error); };
      });
    }
    return dbp;
  }
  function store(mode, fn) {
    return db().then(function (d) {
      return new Promise(function (resolve, reject) {
        var tx = d.transaction("reports", mode);
        var out = fn(tx.objectStore("reports"));
        tx.oncomplete = function () { resolve(out && out.result !== undefined ? out.result : out); };
        tx.onerror = function () { reject(tx.error); };
      });
    });
  }
  function queued() { return store("readonly", function (s) { return s.getAll(); }); }
  function enqueue(rec) { return store("readwrite", function (s) { s.put(rec); }); }
  function dequeue(id) { return store("readwrite", function (s) { s.delete(id); }); }

  var flushing = false;
  function showQueue() {
    return queued().then(function (items) {
      var q = $("queue");
      q.hidden = items.length === 0;
      q.textContent = items.length ? "待发送上报 " + items.length + " 条（网络恢复后自动发送）" : "";
      return items;
    });
  }
  function send(rec) {
    var fd = new FormData();
    Object.keys(rec.fields).forEach(function (k) {
      if (rec.fields[k] !== null && rec.fields[k] !== "") fd.append(k, rec.fields[k]);
    });
    fd.append("client_uuid", rec.client_uuid);
    rec.photos.forEach(function (p, i) { fd.append("photos", p, "photo" + i + ".jpg"); });
    rec.after.forEach(function (p, i) { fd.append("after", p, "after" + i + ".jpg"); });
    return fetch("/api/grid/reports", { method: "POST", body: fd, headers: { Authorization: "Bearer " + token } });
  }
  function flush() {
    if (flushing || !token) return Promise.resolve();
    flushing = true;
    return queued().then(function (items) {
      var chain = Promise.resolve();
      items.forEach(function (rec) {
        chain = chain.then(function () {
          return send(rec).then(function (r) {
            return r.json().catch(function () { return {}; }).then(function (j) {
              if (r.ok) {
                msg("已上报：工单号 " + j.case_number + (j.suggested_matter ? "（建议事项：" + j.suggested_matter + "）" : ""), "ok");
                return dequeue(rec.client_uuid);
              }
              if (r.status === 401) { logout(); throw new Error("login"); }
              if (r.status >= 400 && r.status < 500 && r.status !== 408 && r.status !== 429) {
                msg("上报被拒绝：" + (typeof j.detail === "string" ? j.detail : "内容有误"), "err");
                return dequeue(rec.client_uuid); // the server will never take it: do not retry forever
              }
              throw new Error("retry later");
            });
          });
        });
      });
      return chain;
    }).catch(function () { /* offline or server down: kept for the next try */ })
      .then(function () { flushing = false; return showQueue(); });
  }

  function msg(text, kind) { var m = $("report-msg"); m.textContent = text; m.className = "msg " + (kind || ""); }
  function online(on) { var n = $("net"); n.textContent = on ? "在线" : "离线"; n.className = on ? "" : "off"; }
  window.addEventListener("online", function () { online(true); flush(); });
  window.addEventListener("offline", function () { online(false); });
  setInterval(function () { if (navigator.onLine) flush(); }, 15000);

  // --- login -----------------------------------------------------------------------------------
  function logout() { token = null; localStorage.removeItem(TOKEN_KEY); $("app").hidden = true; $("login").hidden = false; }
  function api(path, opts) {
    opts = opts || {};
    opts.headers = Object.assign({ Authorization: "Bearer " + token }, opts.headers || {});
    return fetch(path, opts).then(function (r) {
      if (r.status === 401) { logout(); throw new Error("login"); }
      return r.json().then(function (j) { if (!r.ok) throw new Error(typeof j.detail === "string" ? j.detail : "error"); return j; });
    });
  }
  $("login-btn").addEventListener("click", function () {
    var body = new URLSearchParams({ username: $("username").value, password: $("password").value });
    fetch("/api/auth/token", { method: "POST", body: body }).then(function (r) {
      return r.json().then(function (j) {
        if (!r.ok) { $("login-msg").textContent = typeof j.detail === "string" ? j.detail : "登录失败"; return; }
        token = j.access_token; localStorage.setItem(TOKEN_KEY, token); start();
      });
    }).catch(function () { $("login-msg").textContent = "网络异常"; });
  });

  // --- tabs ------------------------------------------------------------------------------------
  Array.prototype.forEach.call(document.querySelectorAll("nav button"), function (b) {
    b.addEventListener("click", function () {
      Array.prototype.forEach.call(document.querySelectorAll("nav button"), function (o) {
        o.setAttribute("aria-selected", String(o === b));
        $("tab-" + o.dataset.tab).hidden = o !== b;
      });
      if (b.dataset.tab === "tasks") loadTasks();
      if (b.dataset.tab === "mine") loadMine();
    });
  });

  // --- report form -----------------------------------------------------------------------------
  $("self-handled").addEventListener("change", function () { $("self-box").hidden = !this.checked; });
  $("locate").addEventListener("click", function () {
    if (!navigator.geolocation) { $("loc-text").textContent = "此设备不支持定位，请选择网格或社区"; return; }
    $("loc-text").textContent = "定位中…";
    navigator.geolocation.getCurrentPosition(function (p) {
      loc = { lat: p.coords.latitude, lon: p.coords.longitude };
      $("loc-text").textContent = "已定位：" + loc.lat.toFixed(5) + ", " + loc.lon.toFixed(5);
    }, function () { $("loc-text").textContent = "无法定位，请选择网格或社区"; }, { enableHighAccuracy: true, timeout: 10000 });
  });
  $("photos").addEventListener("change", function () {
    var box = $("photo-thumbs"); box.innerHTML = "";
    Array.prototype.forEach.call(this.files, function (f) {
      var img = document.createElement("img"); img.src = URL.createObjectURL(f); img.alt = f.name; box.appendChild(img);
    });
  });
  $("report-form").addEventListener("submit", function (ev) {
    ev.preventDefault();
    var files = Array.prototype.slice.call($("photos").files);
    var after = Array.prototype.slice.call($("after").files);
    var selfHandled = $("self-handled").checked;
    if (!$("description").value.trim()) { msg("请填写发现的问题", "err"); return; }
    if (!files.length) { msg("请至少拍一张现场照片", "err"); return; }
    if (files.length > 5) { msg("最多 5 张照片", "err"); return; }
    var bad = files.concat(after).filter(function (f) { return !/^image\/(jpeg|png|webp)$/.test(f.type) || f.size > 8000000; });
    if (bad.length) { msg("照片需为 JPEG/PNG/WebP 且不超过 8 MB：" + bad[0].name, "err"); return; }
    if (selfHandled && (!after.length || !$("handled-text").value.trim())) { msg("自处置需填写处置情况并上传处置后照片", "err"); return; }
    var rec = {
      client_uuid: uuid(),
      written_at: new Date().toISOString(),
      fields: {
        description: $("description").value.trim(),
        address: $("address").value.trim(),
        grid_code: $("community").value ? "" : $("grid").value,
        community_code: $("community").value,
        lat: loc ? String(loc.lat) : "",
        lon: loc ? String(loc.lon) : "",
        location_source: loc ? "browser" : ($("grid").value || $("community").value ? "picked" : ""),
        keep_gps: $("keep-gps").checked ? "true" : "false",
        self_handled: selfHandled ? "true" : "false",
        handled_text: $("handled-text").value.trim()
      },
      photos: files,
      after: selfHandled ? after : []
    };
    enqueue(rec).then(function () {
      $("report-form").reset(); $("photo-thumbs").innerHTML = ""; $("self-box").hidden = true; loc = null;
      $("loc-text").textContent = "未定位";
      msg(navigator.onLine ? "发送中…" : "已保存在本机，网络恢复后自动发送", navigator.onLine ? "" : "ok");
      return flush();
    }).catch(function (e) { msg("无法保存上报：" + e, "err"); });
  });

  // --- tasks -----------------------------------------------------------------------------------
  function photoList(photos) {
    return photos.map(function (p) { return '<img src="' + p.thumb_url + '" alt="' + p.stage + '">'; }).join("");
  }
  function esc(s) { var d = document.createElement("div"); d.textContent = s || ""; return d.innerHTML; }
  function loadTasks() {
    return api("/api/grid/tasks").then(function (tasks) {
      $("task-count").textContent = tasks.length ? "(" + tasks.length + ")" : "";
      $("tasks").innerHTML = tasks.length ? "" : '<p class="card muted">暂无核查任务</p>';
      tasks.forEach(function (t) {
        var card = document.createElement("form");
        card.className = "card task"; card.dataset.id = t.id;
        card.innerHTML = "<strong>" + esc(t.case_number) + "</strong><p>" + esc(t.description) + "</p>" +
          '<p class="muted">' + esc(t.address) + (t.due_at ? "　时限 " + esc(t.due_at.slice(0, 16).replace("T", " ")) : "") + "</p>" +
          (t.note ? "<p>要求：" + esc(t.note) + "</p>" : "") + '<div class="thumbs">' + photoList(t.photos) + "</div>" +
          '<label>核查情况</label><input type="text" name="result" maxlength="2000">' +
          '<label class="check"><input type="radio" name="confirmed" value="true" checked> 属实 / 已解决</label>' +
          '<label class="check"><input type="radio" name="confirmed" value="false"> 不属实 / 未解决</label>' +
          '<label>核查前照片</label><input type="file" name="before" accept="image/jpeg,image/png,image/webp" capture="environment">' +
          '<label>核查后照片</label><input type="file" name="after" accept="image/jpeg,image/png,image/webp" capture="environment">' +
          '<button class="primary" type="submit">提交核查</button><p class="msg" role="status"></p>';
        card.addEventListener("submit", function (ev) {
          ev.preventDefault();
          var fd = new FormData(card);
          var out = card.querySelector(".msg");
          if (!String(fd.get("result") || "").trim()) { out.textContent = "请填写核查情况"; out.className = "msg err"; return; }
          api("/api/grid/tasks/" + t.id + "/done", { method: "POST", body: fd }).then(function () {
            out.textContent = "已提交"; out.className = "msg ok"; setTimeout(loadTasks, 500);
          }).catch(function (e) { out.textContent = "提交失败：" + e.message; out.className = "msg err"; });
        });
        $("tasks").appendChild(card);
      });
    }).catch(function () {});
  }
  function loadMine() {
    return api("/api/grid/reports").then(function (rows) {
      $("mine").innerHTML = rows.length ? "" : '<p class="card muted">暂无上报</p>';
      rows.forEach(function (r) {
        var c = document.createElement("div"); c.className = "card";
        c.innerHTML = "<strong>" + esc(r.case_number) + "</strong>　" + esc(r.status_label) + (r.self_handled ? "（自处置）" : "") +
          '<div class="thumbs">' + photoList(r.photos) + "</div>";
        $("mine").appendChild(c);
      });
    }).catch(function () {});
  }

  function start() {
    document.cookie = "cc_token=" + token + "; path=/; SameSite=Strict"; // thumbnails in <img>
    $("login").hidden = true; $("app").hidden = false;
    online(navigator.onLine);
    api("/api/grid/me").then(function (me) {
      $("grid").innerHTML = me.grids.map(function (g) { return '<option value="' + esc(g.code) + '">' + esc(g.name) + "</option>"; }).join("");
      $("community").innerHTML = '<option value="">（按网格）</option>' + me.communities.map(function (a) {
        return '<option value="' + esc(a.code) + '">' + esc(a.name) + "</option>"; }).join("");
    }).catch(function () {});
    loadTasks();
    flush();
  }
  if (token) start();
  showQueue().catch(function () {});
})();
