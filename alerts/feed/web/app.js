// The officers' page: log in, the live stream (server-sent events) feeding the triage list
// (list.js), an alert's detail (detail.js) at its own address (#/alerts/<id>, so a link can be
// shared and Back closes it), attention (attention.js), bulk actions and keys (bulk.js), and
// for shift leads the handover summary.
"use strict";

window.Lookout.app = (function () {
  const L = window.Lookout;
  const { I, $, S, show, TOKEN_KEY } = L;

  // -- static texts and language -------------------------------------------------------------
  function applyStatic() {
    document.documentElement.lang = I.lang === "zh" ? "zh-CN" : "en";
    for (const node of document.querySelectorAll("[data-t]")) node.textContent = I.t(node.dataset.t);
    for (const node of document.querySelectorAll("[data-t-label]")) node.setAttribute("aria-label", I.t(node.dataset.tLabel));
    $("lang-toggle").textContent = I.t("lang_button");
    renderWho();
    L.list.renderFilters();
    L.attention.render();
    L.bulk.render();
    renderConn();
  }

  function renderWho() {
    show($("who"), !!S.me);
    show($("logout"), !!S.me);
    show($("help-open"), !!S.me);
    show($("mute-toggle"), !!S.me);
    if (!S.me) return;
    const o = S.me.officer;
    $("who-name").textContent = o.name;
    $("who-role").textContent = `${I.w("roles", o.role)} · ${o.office_name || o.office_id}`;
    show($("summary-open"), o.role === "supervisor" || o.role === "admin");
  }

  let connState = "off";
  function renderConn() {
    const c = $("conn");
    show(c, connState !== "off");
    $("conn-text").textContent = connState === "live" ? I.t("conn_live") : I.t("conn_lost");
    c.className = `conn ${connState}`;
  }
  function setConn(state) { connState = state; renderConn(); }

  // -- login ---------------------------------------------------------------------------------
  function showLogin(message) {
    S.me = null;
    show($("login-view"), true);
    show($("feed-view"), false);
    const err = $("login-error");
    err.textContent = message || "";
    show(err, !!message);
    applyStatic();
    $("login-officer").focus();
  }

  function sessionOver() {
    stopStream();
    S.token = null;
    sessionStorage.removeItem(TOKEN_KEY);
    showLogin(I.t("session_over"));
  }
  L.hooks.sessionOver = sessionOver;

  async function onLogin(ev) {
    ev.preventDefault();
    const btn = $("login-submit");
    btn.disabled = true;
    try {
      const res = await L.api("/v1/login", { method: "POST",
        body: { officer_id: $("login-officer").value.trim(), password: $("login-password").value } });
      S.token = res.token;
      sessionStorage.setItem(TOKEN_KEY, res.token);
      $("login-password").value = "";
      startFeed(res.me);
    } catch (err) {
      showLogin(L.problemText(err));
    } finally {
      btn.disabled = false;
    }
  }

  async function onLogout() {
    try { await L.api("/v1/logout", { method: "POST" }); } catch (e) { /* ends here anyway */ }
    stopStream();
    S.token = null;
    sessionStorage.removeItem(TOKEN_KEY);
    L.detail.close();
    L.list.R.alerts.clear(); L.list.R.order = []; L.list.rebuild();
    show($("summary-open"), false);
    showLogin();
  }

  // -- the feed ------------------------------------------------------------------------------
  let firstLoad = true;
  function startFeed(me) {
    S.me = me;
    firstLoad = true;
    show($("login-view"), false);
    show($("feed-view"), true);
    applyStatic();
    startStream();
  }

  // the list is loaded: a shared link (#/alerts/<id>) opened before login opens now
  function listLoaded() {
    if (!firstLoad) return;
    firstLoad = false;
    route();
  }

  function startStream() {
    stopStream();
    const es = new EventSource(`/v1/stream?token=${encodeURIComponent(S.token)}`);
    S.es = es;
    // `ready` comes once the server listens for us: loading the list after it means no
    // update can fall between the list and the stream (and a reconnect catches up the same way)
    es.addEventListener("ready", () => { setConn("live"); L.list.load(); });
    es.addEventListener("alert", (e) => L.list.pushRaw(e.data));
    es.addEventListener("resync", () => startStream());
    es.addEventListener("logout", () => sessionOver());
    es.onerror = () => {
      setConn("lost");
      if (es.readyState === EventSource.CLOSED) {
        // the server refused (expired session?) or is gone: ask before trying again
        clearTimeout(S.retryTimer);
        S.retryTimer = setTimeout(async () => {
          try { await L.api("/v1/me"); startStream(); } catch (err) {
            if (err.status !== 401) S.retryTimer = setTimeout(startStream, 5000);
          }
        }, 3000);
      }
    };
  }

  function stopStream() {
    clearTimeout(S.retryTimer);
    if (S.es) S.es.close();
    S.es = null;
    setConn("off");
  }

  // a live update, parsed (list.js): true when it belongs in the list's view
  function received(a) {
    if (!!a.drill !== (S.view === "drill")) return false;
    L.detail.updated(a);
    L.detail.personUpdated(a);
    return true;
  }

  // -- addresses: #/alerts/<id>, #/persons/<id>; Back closes what they opened ------------------
  let returnTo = null; // the row to give focus back to when the panel closes

  function route() {
    const m = /^#\/(alerts|persons)\/(.+)$/.exec(location.hash);
    if (!m) { if (S.selected || S.personId) closeDetail(); return; }
    const id = decodeURIComponent(m[2]);
    if (m[1] === "alerts") { returnTo = id; L.detail.openAlert(id); } else L.detail.openPerson(id);
  }

  function navigate(hash) {
    if (location.hash === hash) { route(); return; }
    history.pushState({ inApp: true }, "", hash);
    route();
  }

  function go(alertId) { navigate(`#/alerts/${encodeURIComponent(alertId)}`); }
  function openPerson(pid) { navigate(`#/persons/${encodeURIComponent(pid)}`); }

  // Close: Back when we opened it ourselves, else (a shared link) drop the address
  function back() {
    if (history.state && history.state.inApp) history.back();
    else { history.replaceState(null, "", location.pathname + location.search); closeDetail(); }
  }

  function closeDetail() {
    L.detail.close();
    const link = returnTo && L.list.rowLink(returnTo);
    if (link) link.focus();
    else $("list-heading").focus();
  }

  // -- the shift summary (supervisors, admins) -----------------------------------------------
  async function openSummary() {
    // opened now, while the click still counts as the user's: a window opened after the
    // await would be a popup to block
    const tab = window.open("", "_blank");
    try {
      const res = await L.api("/v1/summary/link", { method: "POST" });
      if (tab) { tab.opener = null; tab.location.href = res.url; } else window.location.href = res.url;
    } catch (err) {
      if (tab) tab.close();
    }
  }

  // -- wiring --------------------------------------------------------------------------------
  function setView(view) {
    S.view = view;
    if (S.selected || S.personId) back();
    L.list.renderFilters();
    L.attention.render();
    L.list.reload();
  }

  async function boot() {
    $("login-form").addEventListener("submit", onLogin);
    $("logout").addEventListener("click", onLogout);
    $("lang-toggle").addEventListener("click", () => {
      I.setLang(I.lang === "zh" ? "en" : "zh");
      applyStatic(); L.list.refreshTimes(); L.detail.rerender();
    });
    $("summary-open").addEventListener("click", openSummary);
    $("view-live").addEventListener("click", () => setView("live"));
    $("view-drill").addEventListener("click", () => setView("drill"));
    $("detail-close").addEventListener("click", back);
    window.addEventListener("popstate", route);
    L.list.boot(); L.attention.boot(); L.bulk.boot();
    setInterval(() => { if (S.me) { L.list.refreshTimes(); } }, 30000);

    try { I.setWords(await L.api("/v1/words")); } catch (e) { /* shown as codes until reload */ }
    applyStatic();
    if (!S.token) return showLogin();
    try { startFeed(await L.api("/v1/me")); } catch (err) { if (err.status !== 401) showLogin(L.problemText(err)); }
  }

  // what the roster (roster.js, on main) and the person panel's playback reach the page through
  window.LookoutApp = { api: L.api, openPerson, h: L.h, add: L.add, badge: L.badge, paren: L.paren };

  boot();
  return { go, openPerson, back, closeDetail, listLoaded, received };
})();
