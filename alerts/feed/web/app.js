// The officers' page: log in, the live list (server-sent events), an alert's detail with a
// map, acknowledge (签收) and resolve (处置), a person's panel (person.js), and for shift
// leads the handover summary. Every piece of data goes into the page through textContent,
// never as markup: names and notes are typed by people.
"use strict";

(function () {
  const I = window.LookoutI18n;
  const $ = (id) => document.getElementById(id);
  const TOKEN_KEY = "lookout.token"; // sessionStorage: closing the tab ends the login here
  const SEVERITY_RANK = { critical: 0, high: 1, medium: 2, low: 3 };

  const S = {
    token: sessionStorage.getItem(TOKEN_KEY),
    me: null,
    alerts: new Map(),
    unread: new Set(), // critical alerts that arrived live and nobody has opened yet
    fresh: new Set(),  // rows that just changed, briefly highlighted
    view: "live", office: "", type: "",
    selected: null, detail: null,
    personId: null, person: null, // the person panel, when it is the one open
    es: null, retryTimer: null, listSeq: 0,
  };

  // -- small DOM helpers ---------------------------------------------------------------------
  function h(tag, cls, text) {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }
  function add(parent, ...kids) { for (const k of kids) if (k) parent.appendChild(k); return parent; }
  function show(node, on) { node.hidden = !on; }

  function problemText(err) {
    const p = err && err.problem;
    if (p && p[I.lang]) return p[I.lang];
    if (p && Array.isArray(p)) return p.map((x) => x.msg).join("; ");
    return I.t("network_error");
  }

  // -- the API -------------------------------------------------------------------------------
  async function api(path, opts) {
    opts = opts || {};
    const headers = { Accept: "application/json" };
    if (S.token) headers.Authorization = `Bearer ${S.token}`;
    if (opts.body !== undefined) headers["Content-Type"] = "application/json";
    let res;
    try {
      res = await fetch(path, { method: opts.method || "GET", headers,
        body: opts.body === undefined ? undefined : JSON.stringify(opts.body) });
    } catch (e) {
      throw { status: 0, problem: null };
    }
    if (res.status === 204) return null;
    const data = await res.json().catch(() => null);
    if (!res.ok) {
      if (res.status === 401 && S.token && path !== "/v1/login") sessionOver();
      throw { status: res.status, problem: data && data.detail };
    }
    return data;
  }

  // -- static texts and language -------------------------------------------------------------
  function applyStatic() {
    document.documentElement.lang = I.lang === "zh" ? "zh-CN" : "en";
    document.title = (S.unread.size ? `(${S.unread.size}) ` : "") + `${I.t("app_name")} · ${I.t("app_sub")}`;
    for (const node of document.querySelectorAll("[data-t]")) node.textContent = I.t(node.dataset.t);
    $("lang-toggle").textContent = I.t("lang_button");
    renderWho();
    renderFilters();
    renderConn();
  }

  function renderWho() {
    show($("who"), !!S.me);
    show($("logout"), !!S.me);
    if (!S.me) return;
    const o = S.me.officer;
    $("who-name").textContent = o.name;
    $("who-role").textContent = `${I.w("roles", o.role)} · ${o.office_id}`;
    show($("summary-open"), o.role === "supervisor" || o.role === "admin");
  }

  function renderFilters() {
    const office = $("filter-office"), type = $("filter-type");
    office.replaceChildren(new Option(I.t("all_offices"), ""));
    for (const id of (S.me ? S.me.offices : [])) office.add(new Option(id, id));
    office.value = S.office;
    type.replaceChildren(new Option(I.t("all_types"), ""));
    for (const code of Object.keys((I.words && I.words.types) || {})) type.add(new Option(I.w("types", code), code));
    type.value = S.type;
    $("view-live").classList.toggle("on", S.view === "live");
    $("view-drill").classList.toggle("on", S.view === "drill");
    show($("drill-banner"), S.view === "drill");
    document.body.classList.toggle("drill-view", S.view === "drill");
  }

  let connState = "off";
  function renderConn() {
    const c = $("conn");
    show(c, connState !== "off");
    c.textContent = connState === "live" ? I.t("conn_live") : I.t("conn_lost");
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

  async function onLogin(ev) {
    ev.preventDefault();
    const btn = $("login-submit");
    btn.disabled = true;
    try {
      const res = await api("/v1/login", { method: "POST",
        body: { officer_id: $("login-officer").value.trim(), password: $("login-password").value } });
      S.token = res.token;
      sessionStorage.setItem(TOKEN_KEY, res.token);
      $("login-password").value = "";
      startFeed(res.me);
    } catch (err) {
      showLogin(problemText(err));
    } finally {
      btn.disabled = false;
    }
  }

  async function onLogout() {
    try { await api("/v1/logout", { method: "POST" }); } catch (e) { /* ends here anyway */ }
    stopStream();
    S.token = null;
    sessionStorage.removeItem(TOKEN_KEY);
    S.alerts.clear(); S.unread.clear(); S.selected = null; S.detail = null;
    S.personId = null; S.person = null;
    show($("summary-open"), false);
    showLogin();
  }

  // -- the feed ------------------------------------------------------------------------------
  function startFeed(me) {
    S.me = me;
    show($("login-view"), false);
    show($("feed-view"), true);
    applyStatic();
    renderList();
    startStream();
  }

  async function startStream() {
    stopStream();
    // EventSource cannot send the Authorization header: it opens the stream with a one-time
    // ticket, so the session token never appears in a URL
    const token = S.token;
    let ticket;
    try {
      ticket = (await api("/v1/stream/ticket", { method: "POST" })).ticket;
    } catch (err) {
      if (err.status === 401) return; // api() has ended the session on the page
      setConn("lost");
      clearTimeout(S.retryTimer);
      S.retryTimer = setTimeout(startStream, 5000);
      return;
    }
    if (S.token !== token || S.es) return; // logged out, or another start won, meanwhile
    const es = new EventSource(`/v1/stream?ticket=${encodeURIComponent(ticket)}`);
    S.es = es;
    // `ready` comes once the server listens for us: loading the list after it means no
    // update can fall between the list and the stream (and a reconnect catches up the same way)
    es.addEventListener("ready", () => { setConn("live"); loadList(); });
    es.addEventListener("alert", (e) => onAlert(JSON.parse(e.data)));
    es.addEventListener("resync", () => startStream());
    es.addEventListener("logout", () => sessionOver());
    es.onerror = () => {
      // a ticket opens one connection: EventSource's own reconnect would present it again,
      // so close and start over with a new ticket (its request tells an ended session apart)
      setConn("lost");
      es.close();
      if (S.es !== es) return;
      S.es = null;
      clearTimeout(S.retryTimer);
      S.retryTimer = setTimeout(startStream, 3000);
    };
  }

  function stopStream() {
    clearTimeout(S.retryTimer);
    if (S.es) S.es.close();
    S.es = null;
    setConn("off");
  }

  async function loadList() {
    const seq = ++S.listSeq;
    const q = new URLSearchParams({ drill: S.view === "drill" ? "true" : "false", limit: "300" });
    if (S.office) q.append("office", S.office);
    if (S.type) q.append("type", S.type);
    try {
      const res = await api(`/v1/alerts?${q}`);
      if (seq !== S.listSeq) return; // a newer filter won
      const next = new Map();
      for (const a of res.alerts) {
        const old = S.alerts.get(a.alert_id);
        next.set(a.alert_id, old && old.version > a.version ? old : a);
      }
      S.alerts = next;
      renderList();
    } catch (err) { /* the stream's reconnect brings us back here */ }
  }

  function matchesView(a) {
    if (!!a.drill !== (S.view === "drill")) return false;
    if (S.office && a.office_id !== S.office) return false;
    if (S.type && a.type !== S.type) return false;
    return true;
  }

  function onAlert(a) {
    if (!matchesView(a)) return;
    const old = S.alerts.get(a.alert_id);
    if (old && old.version >= a.version) return;
    S.alerts.set(a.alert_id, a);
    if (!old && a.severity === "critical" && a.handling === "new") S.unread.add(a.alert_id);
    if (a.handling !== "new") S.unread.delete(a.alert_id);
    S.fresh.add(a.alert_id);
    setTimeout(() => { S.fresh.delete(a.alert_id); const row = rowOf(a.alert_id); if (row) row.classList.remove("fresh"); }, 4000);
    renderList();
    if (S.personId && a.person_id === S.personId) refreshPerson();
    if (S.selected === a.alert_id && S.detail) {
      S.detail.alert = a;
      if (!S.detail.history.some((x) => x.version === a.version)) S.detail.history.push(a);
      renderDetail();
    }
  }

  function rowOf(id) {
    return document.querySelector(`li.alert[data-id="${CSS.escape(id)}"]`);
  }

  function sorted() {
    return [...S.alerts.values()].sort((a, b) => {
      // open, unhandled work first; then the newest
      const wa = a.handling === "resolved" ? 1 : 0, wb = b.handling === "resolved" ? 1 : 0;
      if (wa !== wb) return wa - wb;
      return Date.parse(b.opened_at) - Date.parse(a.opened_at);
    });
  }

  function badge(cls, text) { return h("span", `badge ${cls}`, text); }

  function renderList() {
    const list = $("alert-list");
    const now = Date.now();
    const rows = sorted();
    list.replaceChildren(...rows.map((a) => row(a, now)));
    show($("empty"), rows.length === 0);
    $("count").textContent = I.t("count", rows.length);
    document.title = (S.unread.size ? `(${S.unread.size}) ` : "") + `${I.t("app_name")} · ${I.t("app_sub")}`;
  }

  function row(a, now) {
    const li = h("li", `alert sev-${a.severity} h-${a.handling} c-${a.condition}`);
    li.dataset.id = a.alert_id;
    li.tabIndex = 0;
    li.setAttribute("role", "button");
    if (S.unread.has(a.alert_id)) li.classList.add("unread");
    if (S.fresh.has(a.alert_id)) li.classList.add("fresh");
    if (S.selected === a.alert_id) li.classList.add("selected");
    const main = h("div", "main");
    const l1 = add(h("div", "line1"), badge(`sev sev-${a.severity}`, I.w("severities", a.severity)),
      h("span", "type", I.w("types", a.type)));
    if (a.drill) add(l1, badge("drill", I.w("other", "drill")));
    if (a.escalated) add(l1, badge("escalated", I.w("other", "escalated")));
    const l2 = add(h("div", "line2"), personName(a, "person"));
    if (a.person_id) add(l2, h("span", "muted", a.person_id));
    if (a.office_id) add(l2, h("span", "muted", a.office_id));
    if (a.zone_name) add(l2, h("span", "zone", a.zone_name));
    add(main, l1, l2);
    const side = add(h("div", "side"),
      h("span", "ago", I.relative(a.opened_at, now)),
      h("span", "abs", I.clock(a.opened_at)),
      add(h("span", "states"), badge(`handling h-${a.handling}`, I.w("handling", a.handling)),
        badge(`cond c-${a.condition}`, I.w("conditions", a.condition))));
    add(li, h("span", "dot"), main, side);
    li.addEventListener("click", () => openDetail(a.alert_id));
    li.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); openDetail(a.alert_id); } });
    return li;
  }

  // the person's name opens their panel; the row around it opens the alert
  function personName(a, cls) {
    const text = a.person_name || a.person_id || "—";
    if (!a.person_id) return h("span", cls, text);
    const b = h("button", `${cls} person-link`, text);
    b.type = "button";
    b.title = I.t("open_person");
    b.addEventListener("click", (e) => { e.stopPropagation(); openPerson(a.person_id); });
    b.addEventListener("keydown", (e) => e.stopPropagation());
    return b;
  }

  // -- person panel --------------------------------------------------------------------------
  async function openPerson(pid) {
    S.selected = null; S.detail = null; S.personId = pid;
    renderList();
    try {
      const d = await api(`/v1/persons/${encodeURIComponent(pid)}`);
      if (S.personId !== pid) return;
      S.person = d;
      renderPerson();
    } catch (err) {
      if (S.personId === pid) closeDetail();
    }
  }

  // a burst of updates about the open person reloads their panel once
  let personTimer = null;
  function refreshPerson() {
    clearTimeout(personTimer);
    personTimer = setTimeout(() => { if (S.personId) openPerson(S.personId); }, 800);
  }

  function renderPerson() {
    if (!S.person) return;
    const body = $("detail-body");
    body.dataset.alertId = "";
    body.replaceChildren(window.LookoutPerson.render(S.person, {
      I, h, add, badge, paren, openAlert: (id) => openDetail(id),
    }));
    show($("detail"), true);
    document.body.classList.add("detail-open");
  }

  function renderPanel() { if (S.person) renderPerson(); else renderDetail(); }

  // -- the shift summary (supervisors, admins) -----------------------------------------------
  async function openSummary() {
    // opened now, while the click still counts as the user's: a window opened after the
    // await would be a popup to block
    const tab = window.open("", "_blank");
    try {
      const res = await api("/v1/summary/link", { method: "POST" });
      if (tab) { tab.opener = null; tab.location.href = res.url; } else window.location.href = res.url;
    } catch (err) {
      if (tab) tab.close();
    }
  }

  // -- detail --------------------------------------------------------------------------------
  async function openDetail(id) {
    S.personId = null; S.person = null;
    S.selected = id;
    S.unread.delete(id);
    renderList();
    try {
      const d = await api(`/v1/alerts/${encodeURIComponent(id)}`);
      if (S.selected !== id) return;
      S.detail = d;
      renderDetail();
    } catch (err) {
      if (err.status === 404) { S.alerts.delete(id); closeDetail(); renderList(); }
    }
  }

  function closeDetail() {
    S.selected = null; S.detail = null; S.personId = null; S.person = null;
    show($("detail"), false);
    document.body.classList.remove("detail-open");
    renderList();
  }

  function paren(text) { return I.lang === "zh" ? `（${text}）` : ` (${text})`; }

  function fact(dl, label, value, cls) {
    if (value === null || value === undefined || value === "") return;
    add(dl, h("dt", null, label), h("dd", cls || null, value));
  }

  function renderDetail() {
    const d = S.detail;
    if (!d) return;
    const a = d.alert;
    const body = $("detail-body");
    // keep what the officer is typing when an update re-renders the panel
    const same = body.dataset.alertId === a.alert_id;
    const keep = same ? { disposition: ($("resolve-disposition") || {}).value, note: ($("resolve-note") || {}).value } : {};
    const focused = same && document.activeElement && body.contains(document.activeElement) ? document.activeElement.id : null;
    body.dataset.alertId = a.alert_id;
    const now = Date.now();
    const head = add(h("div", `detail-head sev-${a.severity}`),
      add(h("div", "line1"), badge(`sev sev-${a.severity}`, I.w("severities", a.severity)),
        a.drill ? badge("drill", I.w("other", "drill")) : null,
        a.escalated ? badge("escalated", I.w("other", "escalated")) : null,
        h("span", "ago", I.relative(a.opened_at, now))),
      h("h2", "type", I.w("types", a.type)),
      add(h("div", "who-line"), personName(a, "person"),
        a.person_id ? h("span", "muted", a.person_id) : null),
      h("p", "message", a.message[I.lang]));
    const states = add(h("div", "states big"), badge(`handling h-${a.handling}`, I.w("handling", a.handling)),
      badge(`cond c-${a.condition}`, I.w("conditions", a.condition)));
    states.id = "detail-handling";
    const status = add(h("div", "status-row"), states);

    const dl = h("dl", "facts");
    fact(dl, I.t("opened"), I.clock(a.opened_at) + paren(I.relative(a.opened_at, now)));
    fact(dl, I.t("last_event"), a.last_event_at ? I.clock(a.last_event_at) + paren(I.relative(a.last_event_at, now)) : null);
    fact(dl, I.t("cleared"), a.cleared_at ? I.clock(a.cleared_at) : null);
    fact(dl, I.t("officer"), a.officer_name ? a.officer_name + paren(a.officer_id) : a.officer_id);
    fact(dl, I.t("office"), a.office_id);
    fact(dl, I.t("zone"), a.zone_name || a.zone_id);
    fact(dl, I.t("accuracy"), a.location && a.location.accuracy_m != null ? `${Math.round(a.location.accuracy_m)} ${I.t("metres")}` : null);
    fact(dl, I.t("events"), String(a.event_count));

    const mapWrap = h("figure", "map-wrap");
    add(mapWrap, window.LookoutMap.draw({
      zone: d.zone, track: d.track ? d.track.points : [], location: a.location,
      labels: { none: I.t("map_none"), north: I.t("north"), m: I.t("metres"), km: I.t("km") },
    }));
    add(mapWrap, add(h("figcaption", "legend"),
      d.zone ? add(h("span", `key zone ${d.zone.properties.kind}`), h("i"), document.createTextNode(`${I.t("map_zone")}${I.lang === "zh" ? "：" : ": "}${d.zone.properties.name}`)) : null,
      add(h("span", "key track"), h("i"), document.createTextNode(I.t("map_track") + paren(d.track ? d.track.points.length : 0))),
      a.location ? add(h("span", "key location"), h("i"), document.createTextNode(I.t("map_location"))) : null));

    const actions = h("div", "actions");
    if (a.handling === "new") {
      const ack = h("button", "primary big", I.w("actions", "acknowledge"));
      ack.type = "button"; ack.id = "ack-button";
      ack.addEventListener("click", () => act(a.alert_id, "acknowledge", null, ack));
      add(status, ack);
    }
    if (a.handling !== "resolved") add(actions, resolveForm(a, keep));
    if (a.resolution) {
      const r = a.resolution;
      add(actions, add(h("div", "resolution"),
        h("strong", null, I.w("dispositions", r.disposition)),
        h("span", "muted", ` · ${I.t("resolved_by")} ${r.by} · ${I.clock(r.at)}`),
        r.note ? h("p", null, r.note) : null));
    }
    const err = h("p", "error"); err.id = "action-error"; err.hidden = true;

    const hist = h("ol", "history");
    const versions = [...d.history].sort((x, y) => x.version - y.version);
    versions.forEach((v, i) => {
      hist.prepend(add(h("li"), h("span", "v", `v${v.version}`), h("span", null, changes(versions[i - 1], v))));
    });
    const route = h("ol", "route");
    for (const s of a.route || []) {
      const reason = I.t("role_reason")[s.reason] || s.reason;
      add(route, add(h("li"), h("span", null, I.clock(s.at)),
        h("span", null, s.officer_id + paren(I.w("roles", s.role === "operator" ? "admin" : s.role))),
        h("span", "muted", reason)));
    }

    body.replaceChildren(head, status, err, mapWrap, actions, dl,
      h("h3", null, I.t("route")), route, h("h3", null, I.t("history")), hist);
    show($("detail"), true);
    document.body.classList.add("detail-open");
    if (focused && $(focused)) $(focused).focus();
  }

  // what a version changed, in words: the history reads as a case file, not as records
  function changes(prev, v) {
    if (!prev) return `${I.t("opened")} ${I.clock(v.opened_at)}`;
    const out = [];
    if (v.handling !== prev.handling) out.push(I.w("handling", v.handling));
    if (v.condition !== prev.condition) out.push(I.w("conditions", v.condition) + (v.cleared_at ? ` ${I.clock(v.cleared_at)}` : ""));
    if (v.escalated && !prev.escalated) out.push(`${I.w("other", "escalated")} → ${v.officer_name || v.officer_id}`);
    else if (v.officer_id !== prev.officer_id) out.push(`→ ${v.officer_name || v.officer_id}`);
    if (v.event_count !== prev.event_count) out.push(`${I.t("events")} ${v.event_count}` + paren(I.clock(v.last_event_at)));
    if (v.reopen_count !== prev.reopen_count) out.push(`${I.t("reopened")} ${v.reopen_count}`);
    if (v.resolution && !prev.resolution) out.push(`${I.w("dispositions", v.resolution.disposition)} · ${v.resolution.by}`);
    return out.join(" · ") || "—";
  }

  function resolveForm(a, keep) {
    const form = h("form", "resolve");
    form.id = "resolve-form";
    const select = h("select"); select.id = "resolve-disposition"; select.required = true;
    select.add(new Option(I.t("choose"), ""));
    for (const code of Object.keys(I.words.dispositions)) select.add(new Option(I.w("dispositions", code), code));
    if (keep.disposition) select.value = keep.disposition;
    const note = h("textarea"); note.id = "resolve-note"; note.rows = 2; note.maxLength = 2000;
    note.value = keep.note || "";
    const tamper = a.type === "tamper";
    note.required = tamper;
    note.placeholder = tamper ? I.t("note_required") : I.t("note");
    const submit = h("button", "secondary big", I.w("actions", "resolve"));
    submit.type = "submit"; submit.id = "resolve-button";
    add(form, add(h("label"), h("span", null, I.t("disposition")), select),
      add(h("label", "grow"), h("span", null, I.t("note") + (tamper ? " *" : "")), note), submit);
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      act(a.alert_id, "resolve", { disposition: select.value, note: note.value }, submit);
    });
    return form;
  }

  async function act(id, kind, body, button) {
    const err = $("action-error");
    show(err, false);
    button.disabled = true;
    try {
      const res = await api(`/v1/alerts/${encodeURIComponent(id)}/${kind}`, { method: "POST", body: body || undefined });
      S.fresh.add(id);
      onAlert(res.alert);
      if (S.detail && S.detail.alert.alert_id === id && S.detail.alert.version < res.alert.version) {
        S.detail.alert = res.alert;
      }
      if (kind === "resolve") { const n = $("resolve-note"); if (n) n.value = ""; }
      renderDetail();
      if (res.pending) {  // Kafka mode: the workers' answer comes on the stream
        const note = $("action-error");
        if (note) { note.textContent = I.t("action_pending"); note.className = "notice"; show(note, true); }
      }
    } catch (e) {
      err.textContent = problemText(e);
      show(err, true);
    } finally {
      button.disabled = false;
    }
  }

  // -- wiring --------------------------------------------------------------------------------
  function setView(view) { S.view = view; S.selected = null; closeDetail(); renderFilters(); S.alerts.clear(); renderList(); loadList(); }

  async function boot() {
    $("login-form").addEventListener("submit", onLogin);
    $("logout").addEventListener("click", onLogout);
    $("lang-toggle").addEventListener("click", () => {
      I.setLang(I.lang === "zh" ? "en" : "zh");
      applyStatic(); renderList(); renderPanel();
    });
    $("summary-open").addEventListener("click", openSummary);
    $("view-live").addEventListener("click", () => setView("live"));
    $("view-drill").addEventListener("click", () => setView("drill"));
    $("filter-office").addEventListener("change", (e) => { S.office = e.target.value; S.alerts.clear(); loadList(); });
    $("filter-type").addEventListener("change", (e) => { S.type = e.target.value; S.alerts.clear(); loadList(); });
    $("detail-close").addEventListener("click", closeDetail);
    document.addEventListener("keydown", (e) => { if (e.key === "Escape" && (S.selected || S.personId)) closeDetail(); });
    setInterval(() => { if (S.me) { renderList(); renderPanel(); } }, 30000);

    try { I.setWords(await api("/v1/words")); } catch (e) { /* shown as codes until reload */ }
    applyStatic();
    if (!S.token) return showLogin();
    try { startFeed(await api("/v1/me")); } catch (err) { if (err.status !== 401) showLogin(problemText(err)); }
  }

  boot();
})();
