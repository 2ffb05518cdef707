// Browser softphone of the console (网页软电话): JsSIP over secure WebSocket to Asterisk (WebRTC,
// DTLS-SRTP). Loaded by the agent and supervisor pages after common.js; adds its own panel to the
// header. Credentials come from POST /api/softphone/credentials (issued for this login, never part of
// the page). State is shown in the badge #sp-state (data-state: off, connecting, registered, failed,
// ringing, talking, held) and exposed as window.CCSoftphone for tests.
"use strict";

(function () {
  const SP = {
    state: "off",
    ua: null,
    session: null, // the call with the citizen (or the spy call)
    consult: null, // attended transfer: the consultation call
    conf: null,
    texts: {},
    autoAnswer: false,
    micOk: null,
    events: [], // [{t, type}] for tests and the set-up time bench
  };
  window.CCSoftphone = SP;

  const tx = (k) => SP.texts[k] || k;
  const $ = (id) => document.getElementById(id);

  function log(type, extra) { SP.events.push(Object.assign({ t: performance.now(), type }, extra || {})); }

  function setState(state, message) {
    SP.state = state;
    const badge = $("sp-state");
    if (badge) {
      badge.dataset.state = state;
      badge.className = "sp-state sp-" + state;
      badge.textContent = tx("state." + state);
    }
    if (message !== undefined) say(message, state === "failed");
    const inCall = ["ringing", "talking", "held"].includes(state);
    for (const id of ["sp-hangup", "sp-hold", "sp-mute", "sp-dtmf", "sp-dtmf-send", "sp-xfer-to", "sp-blind", "sp-consult"]) {
      const b = $(id); if (b) b.disabled = !inCall || (state === "ringing" && id !== "sp-hangup");
    }
    const ans = $("sp-answer"); if (ans) ans.disabled = state !== "ringing";
    const done = $("sp-complete"); if (done) done.disabled = !SP.consult;
    const hold = $("sp-hold"); if (hold) hold.textContent = tx(state === "held" ? "unhold" : "hold");
    log("state", { state });
  }

  function say(message, bad) {
    // a microphone problem stays visible until the page is reloaded (calls cannot be heard without it)
    if (!message && SP.micError) { message = SP.micError; bad = true; }
    const m = $("sp-msg");
    if (m) { m.textContent = message || ""; m.classList.toggle("bad", !!bad); }
  }

  function button(id, key, onclick, cls) {
    const b = document.createElement("button");
    b.id = id; b.type = "button"; b.textContent = tx(key); b.disabled = true;
    if (cls) b.className = cls;
    b.addEventListener("click", onclick);
    return b;
  }

  function buildPanel() {
    const css = document.createElement("link");
    css.rel = "stylesheet"; css.href = "/softphone/softphone.css";
    document.head.append(css);
    const bar = document.querySelector("header.bar");
    const panel = document.createElement("span");
    panel.id = "softphone";
    panel.className = "softphone";
    const badge = document.createElement("span");
    badge.id = "sp-state"; badge.setAttribute("role", "status"); badge.title = tx("title");
    const dtmf = document.createElement("input");
    dtmf.id = "sp-dtmf"; dtmf.size = 4; dtmf.placeholder = tx("dtmf"); dtmf.disabled = true;
    const xfer = document.createElement("input");
    xfer.id = "sp-xfer-to"; xfer.size = 6; xfer.placeholder = tx("transfer_to"); xfer.disabled = true;
    const auto = document.createElement("label");
    auto.className = "sp-auto";
    const cb = document.createElement("input");
    cb.type = "checkbox"; cb.id = "sp-auto";
    cb.addEventListener("change", () => { SP.autoAnswer = cb.checked; localStorage.setItem("cc_sp_auto", cb.checked ? "1" : "0"); });
    auto.append(cb, document.createTextNode(tx("auto_answer")));
    const msg = document.createElement("span");
    msg.id = "sp-msg"; msg.className = "sp-msg";
    const audio = document.createElement("audio");
    audio.id = "sp-audio"; audio.autoplay = true;
    panel.append(
      badge,
      button("sp-answer", "answer", answer, "primary"),
      button("sp-hangup", "hangup", hangup, "danger"),
      button("sp-hold", "hold", toggleHold),
      button("sp-mute", "mute", toggleMute),
      dtmf, button("sp-dtmf-send", "send_dtmf", sendDtmf),
      xfer, button("sp-blind", "blind", blindTransfer), button("sp-consult", "consult", consult),
      button("sp-complete", "complete", completeTransfer),
      auto, msg, audio,
    );
    const spacer = bar && bar.querySelector(".spacer");
    if (bar) bar.insertBefore(panel, spacer || null); else document.body.prepend(panel);
  }

  function target(ext) {
    const domain = SP.conf.uri.split("@")[1];
    return "sip:" + ext + "@" + domain;
  }

  function options() {
    return { mediaConstraints: { audio: true, video: false }, pcConfig: { iceServers: [] }, rtcOfferConstraints: { offerToReceiveAudio: true } };
  }

  async function checkMicrophone() {
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      SP.micOk = false; say(tx("error.no_webrtc"), true); return false;
    }
    try {
      const stream = await navigator.mediaDevices.getUserMedia({ audio: true });
      stream.getTracks().forEach((tr) => tr.stop());
      SP.micOk = true;
      return true;
    } catch (e) {
      SP.micOk = false;
      const key = e && e.name === "NotAllowedError" ? "error.mic_denied" : e && e.name === "NotFoundError" ? "error.mic_missing" : "error.mic_other";
      SP.micError = tx(key) + (e && e.message ? "（" + e.message + "）" : "");
      setState("failed", SP.micError);
      return false;
    }
  }

  function attach(session) {
    session.on("peerconnection", (e) => {
      e.peerconnection.addEventListener("track", (ev) => {
        const audio = $("sp-audio");
        audio.srcObject = ev.streams[0] || new MediaStream([ev.track]);
        audio.play().catch(() => {});
        log("remote_track");
      });
    });
    session.on("accepted", () => { log("accepted"); if (session === SP.session) setState("talking", ""); });
    session.on("confirmed", () => log("confirmed"));
    session.on("hold", () => { if (session === SP.session) setState("held"); });
    session.on("unhold", () => { if (session === SP.session) setState("talking"); });
    const end = (why) => (e) => {
      log(why, { cause: e && e.cause });
      if (session === SP.consult) { SP.consult = null; setState(SP.state); return; }
      if (session !== SP.session) return;
      SP.session = null;
      if (SP.consult) { try { SP.consult.terminate(); } catch (_) { /* gone */ } SP.consult = null; }
      const mute = $("sp-mute"); if (mute) mute.textContent = tx("mute");
      setState(SP.ua && SP.ua.isRegistered() ? "registered" : "off", why === "failed" && e && e.cause ? tx("call_failed") + "：" + e.cause : "");
    };
    session.on("ended", end("ended"));
    session.on("failed", end("failed"));
  }

  function onNewSession(e) {
    const session = e.session;
    if (e.originator !== "remote") return; // our own consult / outgoing calls are attached by the caller
    if (SP.session) { session.terminate({ status_code: 486 }); return; } // busy: one call at a time
    SP.session = session;
    attach(session);
    const from = session.remote_identity;
    const who = (from.display_name || "") + " " + (from.uri ? from.uri.user : "");
    log("ringing", { from: who.trim() });
    setState("ringing", tx("incoming") + "：" + who.trim());
    const spy = /^spy/i.test(from.display_name || "");
    if (SP.autoAnswer || spy) setTimeout(answer, 0);
  }

  function answer() {
    if (!SP.session || SP.state !== "ringing") return;
    if (SP.micOk === false) { say(tx("error.mic_denied"), true); }
    log("answer");
    SP.session.answer(options());
  }

  function hangup() {
    if (SP.consult) { try { SP.consult.terminate(); } catch (_) { /* gone */ } }
    if (SP.session) { try { SP.session.terminate(); } catch (_) { /* gone */ } }
  }

  function toggleHold() {
    if (!SP.session) return;
    if (SP.session.isOnHold().local) SP.session.unhold(); else SP.session.hold();
  }

  function toggleMute() {
    if (!SP.session) return;
    const muted = SP.session.isMuted().audio;
    if (muted) SP.session.unmute({ audio: true }); else SP.session.mute({ audio: true });
    $("sp-mute").textContent = tx(muted ? "mute" : "unmute");
    $("sp-mute").dataset.muted = muted ? "0" : "1";
    log(muted ? "unmuted" : "muted");
  }

  function sendDtmf() {
    const v = $("sp-dtmf").value.replace(/[^0-9*#A-D]/gi, "");
    if (!SP.session || !v) return;
    SP.session.sendDTMF(v, { transportType: "RFC2833", duration: 120, interToneGap: 80 });
    log("dtmf", { tones: v });
    $("sp-dtmf").value = "";
  }

  function finish(session) {
    try { if (!session.isEnded()) session.terminate(); } catch (_) { /* already gone */ }
  }

  function transferTarget() {
    const v = $("sp-xfer-to").value.trim();
    if (!/^[0-9]{2,16}$/.test(v)) { say(tx("error.bad_target"), true); return null; }
    return v;
  }

  function blindTransfer() {
    const ext = transferTarget();
    if (!SP.session || !ext) return;
    log("blind_transfer", { to: ext });
    const session = SP.session;
    session.refer(target(ext), {
      eventHandlers: {
        // the transfer target answered (NOTIFY 200): the transferor leaves the call (RFC 5589)
        accepted: () => { say(tx("transferred") + " " + ext); finish(session); },
        failed: () => say(tx("error.transfer_failed"), true),
      },
    });
  }

  function consult() {
    const ext = transferTarget();
    if (!SP.session || !ext || SP.consult) return;
    if (!SP.session.isOnHold().local) SP.session.hold();
    const c = SP.ua.call(target(ext), options());
    SP.consult = c;
    attach(c);
    log("consult", { to: ext });
    say(tx("consulting") + " " + ext);
    setState(SP.state);
  }

  function completeTransfer() {
    if (!SP.session || !SP.consult) return;
    const c = SP.consult;
    log("attended_transfer");
    const session = SP.session;
    session.refer(c.remote_identity.uri, {
      replaces: c,
      eventHandlers: {
        accepted: () => { say(tx("transferred")); finish(session); },
        failed: () => say(tx("error.transfer_failed"), true),
      },
    });
  }

  async function start() {
    if (typeof JsSIP === "undefined") { setState("failed", tx("error.no_library")); return; }
    let conf;
    try {
      conf = await api("/api/softphone/credentials", { method: "POST", body: {} });
    } catch (e) {
      if (e.status === 409 || e.status === 403) { setState("off", tx("error.no_softphone") + "：" + e.message); return; }
      setState("failed", tx("error.credentials") + "：" + e.message);
      return;
    }
    SP.conf = conf;
    if (conf.warning) say(tx("error.server_not_ready") + "：" + conf.warning, true);
    const stored = localStorage.getItem("cc_sp_auto");
    SP.autoAnswer = stored === null ? !!conf.auto_answer : stored === "1";
    $("sp-auto").checked = SP.autoAnswer;
    await checkMicrophone();
    setState("connecting");
    const socket = new JsSIP.WebSocketInterface(conf.ws_url);
    const ua = new JsSIP.UA({
      sockets: [socket],
      uri: conf.uri,
      authorization_user: conf.authorization_user,
      password: conf.password,
      display_name: conf.display_name,
      register: true,
      register_expires: 300,
      session_timers: false,
      user_agent: "hotline-console",
      connection_recovery_min_interval: 2,
      connection_recovery_max_interval: 30,
    });
    SP.ua = ua;
    ua.on("registered", () => { log("registered"); if (!SP.session) setState("registered", ""); });
    ua.on("unregistered", () => { if (!SP.session) setState("off"); });
    ua.on("registrationFailed", (e) => {
      log("registration_failed", { cause: e.cause });
      setState("failed", tx("error.registration") + "：" + (e.cause || "") + (e.response ? " " + e.response.status_code : ""));
    });
    ua.on("disconnected", (e) => {
      log("disconnected");
      if (SP.state !== "failed" || !$("sp-msg").textContent) setState("failed", tx("error.websocket") + " " + conf.ws_url);
    });
    ua.on("connected", () => log("connected"));
    ua.on("newRTCSession", onNewSession);
    ua.start();
    window.addEventListener("beforeunload", () => { try { ua.stop(); } catch (_) { /* closing */ } });
    const out = document.getElementById("logout");
    if (out) out.addEventListener("click", () => {
      try { ua.stop(); } catch (_) { /* closing */ }
      api("/api/softphone/credentials", { method: "DELETE", noRedirect: true }).catch(() => {});
    }, { capture: true });
  }

  async function init() {
    if (!token()) return;
    try { SP.texts = await (await fetch("/softphone/zh-CN.json")).json(); } catch (_) { SP.texts = {}; }
    buildPanel();
    setState("off");
    await start();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init); else init();
})();
