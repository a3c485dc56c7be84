// Calling for attention: a tone for critical alerts (made with WebAudio, muted by a switch the
// browser remembers), a system notification while the page is in the background (permission
// asked once, from a click), the unread count in the title, a banner for critical alerts
// nobody has acknowledged, and a screen-reader announcement of each new critical alert.
// Unread state itself lives on the server, per officer (GET /v1/alerts `attention`).
"use strict";

window.Lookout.attention = (function () {
  const L = window.Lookout;
  const { I, $, S, show } = L;
  const MUTE_KEY = "lookout.mute";
  const ASKED_KEY = "lookout.notify.asked";

  const A = { unread: 0, criticalNew: 0, muted: localStorage.getItem(MUTE_KEY) === "1" };
  let audio = null;
  let lastTone = 0;

  // an AudioContext may only start from a user gesture: the first click or key makes it
  function unlockAudio() {
    if (audio || !(window.AudioContext || window.webkitAudioContext)) return;
    audio = new (window.AudioContext || window.webkitAudioContext)();
  }

  function tone() {
    const now = Date.now();
    if (A.muted || !audio || now - lastTone < 2500) return; // a burst rings once
    lastTone = now;
    if (audio.state === "suspended") audio.resume();
    const t0 = audio.currentTime;
    // two short rising beeps: heard across a room, not mistaken for a phone
    for (const [i, freq] of [[0, 880], [1, 1175]]) {
      const osc = audio.createOscillator(), gain = audio.createGain();
      osc.type = "square";
      osc.frequency.value = freq;
      const start = t0 + i * 0.22;
      gain.gain.setValueAtTime(0.0001, start);
      gain.gain.exponentialRampToValueAtTime(0.18, start + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, start + 0.18);
      osc.connect(gain).connect(audio.destination);
      osc.start(start);
      osc.stop(start + 0.2);
    }
  }

  function setMuted(on) {
    A.muted = on;
    localStorage.setItem(MUTE_KEY, on ? "1" : "0");
    render();
  }

  function canNotify() { return "Notification" in window; }

  async function askNotify() {
    if (!canNotify()) return;
    localStorage.setItem(ASKED_KEY, "1");
    try { await Notification.requestPermission(); } catch (e) { /* old browsers: callback form */ }
    render();
  }

  // New critical alerts are told once per second: one alert by name, a burst by its count
  // (a carrier outage must not pop up six hundred notifications or read out six hundred lines).
  let told = [], tellTimer = null;
  function tell(a) {
    told.push(a);
    if (!tellTimer) tellTimer = setTimeout(flushTell, 1000);
  }
  function flushTell() {
    const batch = told;
    told = []; tellTimer = null;
    if (!batch.length) return;
    const a = batch[0];
    const text = batch.length === 1
      ? `${I.t("new_critical")}：${I.w("types", a.type)} ${a.person_name || a.person_id || ""}`
      : I.t("new_criticals", batch.length);
    $("announcer").textContent = text;
    if (!canNotify() || Notification.permission !== "granted" || !document.hidden) return;
    const n = new Notification(text, { body: batch.length === 1 ? (L.officeName(a) || "") : "",
      tag: batch.length === 1 ? a.alert_id : "lookout-burst", requireInteraction: true });
    n.onclick = () => { window.focus(); if (batch.length === 1) L.app.go(a.alert_id); n.close(); };
  }

  // a live update: a brand-new critical alert calls for attention
  function arrived(a, old) {
    if (a.drill) return;
    if (!old && a.version === 1 && a.handling === "new") {
      A.unread += 1;
      if (a.severity === "critical") {
        A.criticalNew += 1;
        tone(); tell(a);
      }
    } else if (old && old.handling === "new" && a.handling !== "new") {
      if (old.unread) A.unread = Math.max(0, A.unread - 1);
      if (old.severity === "critical") A.criticalNew = Math.max(0, A.criticalNew - 1);
    }
    scheduleRender();
  }

  // title and banner once per frame, however many updates the frame brings
  let renderFrame = 0;
  function scheduleRender() {
    if (!renderFrame) renderFrame = requestAnimationFrame(() => { renderFrame = 0; render(); });
  }

  function fromServer(att) {
    if (!att) return;
    A.unread = att.unread; A.criticalNew = att.critical_new;
    render();
  }

  function opened(a) {
    if (a && a.unread) { a.unread = false; A.unread = Math.max(0, A.unread - 1); render(); }
  }

  function render() {
    document.title = (A.unread ? `(${A.unread}) ` : "") + `${I.t("app_name")} · ${I.t("app_sub")}`;
    const mute = $("mute-toggle");
    mute.setAttribute("aria-pressed", A.muted ? "true" : "false");
    mute.textContent = A.muted ? I.t("sound_off") : I.t("sound_on");
    mute.setAttribute("aria-label", I.t("sound_label"));
    const ask = $("notify-ask");
    show(ask, !!S.me && canNotify() && Notification.permission === "default" && !localStorage.getItem(ASKED_KEY));
    const banner = $("critical-banner");
    show(banner, !!S.me && S.view === "live" && A.criticalNew > 0);
    $("critical-banner-text").textContent = I.t("critical_banner", A.criticalNew);
  }

  function boot() {
    document.addEventListener("pointerdown", unlockAudio, { once: true });
    document.addEventListener("keydown", unlockAudio, { once: true });
    $("mute-toggle").addEventListener("click", () => setMuted(!A.muted));
    $("notify-ask").addEventListener("click", askNotify);
    $("critical-banner-show").addEventListener("click", () => L.list.showCriticalNew());
  }

  return { A, arrived, fromServer, opened, render, boot, tone };
})();
