// The triage list. The server sorts, filters, pages and counts (GET /v1/alerts); the page keeps
// the rows it has loaded in the same order and fits each live update in place: one row is
// inserted, moved or updated, never the whole list redrawn. Updates are queued and applied
// a slice per animation frame, so a burst of a thousand never blocks the page.
"use strict";

window.Lookout.list = (function () {
  const L = window.Lookout;
  const { I, $, S, h, add, show, badge } = L;
  const PAGE = 100;
  // work per frame on live updates (the model first, then the rows), so that a burst leaves
  // the page drawing and answering
  const MODEL_BUDGET_MS = 5;
  const FRAME_BUDGET_MS = 10;
  const SEVERITY_RANK = { critical: 0, high: 1, medium: 2, low: 3 };
  const TAB_HANDLING = { open: ["new", "acknowledged"], new: ["new"], acknowledged: ["acknowledged"], resolved: ["resolved"] };

  const R = {
    alerts: new Map(),    // alert_id -> record, the loaded rows only
    order: [],            // alert ids in triage order, as in the DOM
    rows: new Map(),      // alert_id -> li
    total: 0, counts: { new: 0, acknowledged: 0, resolved: 0 },
    window: PAGE,         // how many rows the officer has asked to see
    raw: [], pending: new Map(), dirty: new Set(), drawn: true, frame: 0, listSeq: 0, countsTimer: null,
    checked: new Set(),   // bulk selection (bulk.js)
  };

  // the server's order (alerts/triage.py): unacknowledged escalated or critical first, then
  // severity, then newest, then id
  function key(a) {
    if (a._k && a._k.v === a.version && a._k.h === a.handling) return a._k.key;
    const urgent = a.handling === "new" && (a.escalated || a.severity === "critical") ? 0 : 1;
    const k = [urgent, SEVERITY_RANK[a.severity] ?? 3, -(Date.parse(a.opened_at) || 0), a.alert_id];
    a._k = { v: a.version, h: a.handling, key: k };
    return k;
  }
  function before(a, b) {
    const x = key(a), y = key(b);
    for (let i = 0; i < 3; i++) if (x[i] !== y[i]) return x[i] < y[i];
    return x[3] < y[3];
  }
  function position(a) { // binary search in R.order
    let lo = 0, hi = R.order.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (before(R.alerts.get(R.order[mid]), a)) lo = mid + 1; else hi = mid;
    }
    return lo;
  }

  function dayStart(text) { return text ? new Date(`${text}T00:00:00`).getTime() : null; }

  function query(offset, limit) {
    const f = S.f;
    const q = new URLSearchParams({ drill: S.view === "drill" ? "true" : "false", limit: String(limit), offset: String(offset) });
    for (const hs of TAB_HANDLING[f.tab]) q.append("handling", hs);
    if (f.mine) q.set("mine", "true");
    if (f.office) q.set("office", f.office);
    if (f.type) q.set("type", f.type);
    if (f.severity) q.set("severity", f.severity);
    if (f.person.trim()) q.set("person", f.person.trim());
    if (f.from) q.set("since_ms", String(dayStart(f.from)));
    if (f.to) q.set("until_ms", String(dayStart(f.to) + 86_400_000));
    return q;
  }

  // would the server list this alert under the current filters?
  function matches(a, anyHandling) {
    const f = S.f;
    if (!!a.drill !== (S.view === "drill")) return false;
    if (!anyHandling && !TAB_HANDLING[f.tab].includes(a.handling)) return false;
    if (f.mine && a.officer_id !== S.me.officer.officer_id) return false;
    if (f.office && a.office_id !== f.office) return false;
    if (f.type && a.type !== f.type) return false;
    if (f.severity && a.severity !== f.severity) return false;
    const p = f.person.trim().toLowerCase();
    if (p && !((a.person_id || "").toLowerCase() === p || (a.person_name || "").toLowerCase().includes(p))) return false;
    const opened = Date.parse(a.opened_at);
    if (f.from && opened < dayStart(f.from)) return false;
    if (f.to && opened >= dayStart(f.to) + 86_400_000) return false;
    return true;
  }

  async function load() {
    const seq = ++R.listSeq;
    try {
      const res = await L.api(`/v1/alerts?${query(0, R.window)}`);
      if (seq !== R.listSeq) return; // a newer filter won
      R.pending.clear();
      R.alerts = new Map(res.alerts.map((a) => [a.alert_id, a]));
      R.order = res.alerts.map((a) => a.alert_id);
      takeCounts(res);
      rebuild();
      L.app.listLoaded();
    } catch (err) { /* the stream's reconnect brings us back here */ }
  }

  async function more() {
    const seq = R.listSeq;
    const res = await L.api(`/v1/alerts?${query(R.order.length, PAGE)}`).catch(() => null);
    if (!res || seq !== R.listSeq) return;
    R.window = R.order.length + PAGE;
    const list = $("alert-list");
    const now = Date.now();
    for (const a of res.alerts) {
      if (R.alerts.has(a.alert_id)) continue;
      R.alerts.set(a.alert_id, a);
      R.order.push(a.alert_id);
      const li = row(a, now);
      R.rows.set(a.alert_id, li);
      list.appendChild(li);
    }
    takeCounts(res);
    footer();
  }

  function takeCounts(res) {
    R.total = res.total; R.counts = res.counts || R.counts;
    L.attention.fromServer(res.attention);
    renderTabs();
  }

  // counts are refreshed from the server once a burst has settled: they stay true totals
  function refreshCountsSoon() {
    clearTimeout(R.countsTimer);
    R.countsTimer = setTimeout(async () => {
      const seq = R.listSeq;
      const res = await L.api(`/v1/alerts?${query(0, 1)}`).catch(() => null);
      if (res && seq === R.listSeq) { takeCounts(res); footer(); }
    }, 1200);
  }

  function rebuild() {
    const now = Date.now();
    R.rows = new Map();
    R.dirty.clear();
    R.drawn = true;
    const items = R.order.map((id) => { const li = row(R.alerts.get(id), now); R.rows.set(id, li); return li; });
    $("alert-list").replaceChildren(...items);
    for (const id of [...R.checked]) if (!R.alerts.has(id)) R.checked.delete(id);
    footer();
    L.bulk.render();
  }

  function footer() {
    show($("empty"), R.order.length === 0);
    $("count").textContent = I.t("count_of", [R.order.length, R.total]);
    show($("more"), R.order.length < R.total);
  }

  // -- live updates ----------------------------------------------------------------------------
  function push(a) {
    R.pending.set(a.alert_id, a); // a later version of the same alert replaces the queued one
    if (!R.frame) R.frame = requestAnimationFrame(flush);
  }

  // an update as the stream delivered it: parsed later, within a frame's budget, so that a
  // burst of stream events costs the event handler almost nothing
  function pushRaw(text) {
    R.raw.push(text);
    if (!R.frame) R.frame = requestAnimationFrame(flush);
  }

  function flush() {
    const t0 = performance.now();
    R.frame = 0;
    const focusedId = focusedRowId();
    let done = 0;
    while ((R.raw.length || R.pending.size) && (performance.now() - t0 < MODEL_BUDGET_MS || !done)) {
      if (R.raw.length) {
        const a = JSON.parse(R.raw.shift());
        if (L.app.received(a)) R.pending.set(a.alert_id, a);
        continue;
      }
      const [id, a] = R.pending.entries().next().value;
      R.pending.delete(id);
      apply(a);
      trim();
      done += 1;
    }
    if (done || !R.drawn) {
      R.drawn = sync(Date.now(), t0 + FRAME_BUDGET_MS);
      if (focusedId) refocus(focusedId);
      footer();
      refreshCountsSoon();
      L.bulk.render();
    }
    if ((R.raw.length || R.pending.size || !R.drawn) && !R.frame) R.frame = requestAnimationFrame(flush);
  }

  function busy() { return R.raw.length + R.pending.size + (R.drawn ? 0 : 1); }

  // an update to the model only (order and records): the DOM follows once per frame (sync),
  // so a burst that pushes a thousand alerts through the top of the list builds only the
  // rows that are still there at the end of the frame
  function apply(a) {
    const old = R.alerts.get(a.alert_id);
    if (old && old.version >= a.version) return;
    L.attention.arrived(a, old);
    if (old && old.unread && a.handling === "new") a.unread = true;
    if (!old && a.version === 1 && a.handling === "new") a.unread = true;
    const unloaded = R.total > R.order.length; // the server holds rows after the loaded ones
    count(old, a);
    if (!matches(a)) { if (old) drop(a.alert_id); return; }
    if (old) R.order.splice(R.order.indexOf(a.alert_id), 1);
    const at = position(a);
    // it sorts after the loaded rows: it belongs to a page not loaded yet
    if (at >= R.window || (unloaded && at >= R.order.length)) { drop(a.alert_id); return; }
    R.alerts.set(a.alert_id, a);
    R.order.splice(at, 0, a.alert_id);
    R.dirty.add(a.alert_id);
  }

  // the DOM made to match the model: gone rows removed, then one walk down the order that
  // (re)fills new and changed rows and moves only what is out of place. Filling rows stops at
  // `deadline`: the top of the list is right first, the rest follows in the next frames.
  // Returns whether the DOM now matches.
  function sync(now, deadline) {
    const list = $("alert-list");
    const heir = heirOfFocus();
    for (const [id, li] of R.rows) if (!R.alerts.has(id)) { li.remove(); R.rows.delete(id); }
    if (heir) heir.querySelector("a.open").focus({ preventScroll: true });
    let cur = list.firstElementChild;
    let filled = 0;
    for (const id of R.order) {
      let li = R.rows.get(id);
      if (!li || R.dirty.has(id)) {
        if (filled && performance.now() > deadline) return false;
        const a = R.alerts.get(id);
        if (li) fill(li, a, now); else { li = row(a, now); R.rows.set(id, li); }
        R.dirty.delete(id);
        li.classList.add("fresh");
        setTimeout(() => li.classList.remove("fresh"), 4000);
        filled += 1;
      }
      if (li === cur) { cur = cur.nextElementSibling; continue; }
      list.insertBefore(li, cur);
    }
    R.dirty.clear(); // what is left was dropped before it was drawn
    return true;
  }

  // the row that takes the focus when the focused row leaves the list (acknowledged while the
  // officer looks at 未签收, say): the next row that stays, else the previous one
  function heirOfFocus() {
    const el = document.activeElement;
    const gone = el && el.closest && el.closest("li.alert");
    if (!gone || R.alerts.has(gone.dataset.id)) return null;
    for (const step of ["nextElementSibling", "previousElementSibling"]) {
      for (let li = gone[step]; li; li = li[step]) if (R.alerts.has(li.dataset.id)) return li;
    }
    $("list-heading").focus();
    return null;
  }

  // counts follow the updates at once; the server's true totals replace them when a burst
  // settles (refreshCountsSoon)
  function count(old, a) {
    const was = !!old && matches(old), is = matches(a);
    if (!old && a.version === 1) {
      if (matches(a, true)) R.counts[a.handling] = (R.counts[a.handling] || 0) + 1;
    } else if (old && old.handling !== a.handling && matches(a, true)) {
      R.counts[old.handling] = Math.max(0, (R.counts[old.handling] || 0) - 1);
      R.counts[a.handling] = (R.counts[a.handling] || 0) + 1;
    }
    if (!was && is && (old || a.version === 1)) R.total += 1;
    else if (was && !is) R.total = Math.max(0, R.total - 1);
    renderTabsSoon();
  }

  function drop(id) {
    const i = R.order.indexOf(id);
    if (i >= 0) R.order.splice(i, 1);
    R.alerts.delete(id);
    R.checked.delete(id);
  }

  // rows pushed past what the officer asked to see leave the page (the server still has them)
  function trim() {
    while (R.order.length > R.window) {
      const id = R.order.pop();
      R.alerts.delete(id); R.checked.delete(id);
    }
  }

  function focusedRowId() {
    const el = document.activeElement;
    const li = el && el.closest && el.closest("li.alert");
    return li ? li.dataset.id : null;
  }
  // a row moved by an update keeps the keyboard focus where it was
  function refocus(id) {
    const li = R.rows.get(id);
    const cls = document.activeElement && document.activeElement.className;
    if (!li || li.contains(document.activeElement)) return;
    const target = (cls && li.querySelector(`.${String(cls).split(" ")[0]}`)) || li.querySelector("a.open");
    if (target) target.focus({ preventScroll: true });
  }

  // -- rows ----------------------------------------------------------------------------------
  function row(a, now) {
    const li = h("li", "alert");
    li.dataset.id = a.alert_id;
    const box = h("input", "pick");
    box.type = "checkbox";
    box.addEventListener("change", () => L.bulk.toggle(a.alert_id, box.checked));
    const link = h("a", "open");
    link.href = `#/alerts/${encodeURIComponent(a.alert_id)}`;
    link.addEventListener("click", (e) => {
      if (e.ctrlKey || e.metaKey || e.shiftKey || e.button) return; // a new tab: the link as is
      e.preventDefault();
      L.app.go(a.alert_id);
    });
    const person = h("button", "person-link");
    person.type = "button";
    person.addEventListener("click", () => L.app.openPerson(li._alert.person_id));
    add(li, box, link, person);
    fill(li, a, now);
    return li;
  }

  // (re)writes a row's content; its checkbox, link and button stay the same elements, so
  // focus and a half-made selection survive an update
  function fill(li, a, now) {
    li._alert = a;
    li.className = `alert sev-${a.severity} h-${a.handling} c-${a.condition}` +
      (a.unread ? " unread" : "") + (S.selected === a.alert_id ? " selected" : "");
    const [box, link, person] = li.children;
    box.checked = R.checked.has(a.alert_id);
    const who = a.person_name || a.person_id || "—";
    box.setAttribute("aria-label", I.t("select_alert", `${I.w("types", a.type)} ${who}`));
    const l1 = add(h("span", "line1"), badge(`sev sev-${a.severity}`, I.w("severities", a.severity)),
      h("span", "type", I.w("types", a.type)));
    if (a.unread) add(l1, badge("unread-badge", I.t("unread")));
    if (a.drill) add(l1, badge("drill", I.w("other", "drill")));
    if (a.escalated) add(l1, badge("escalated", I.w("other", "escalated")));
    if (a.late) add(l1, badge("late", I.t("late")));
    const l2 = add(h("span", "line2"), h("span", "person", who));
    if (a.person_id && a.person_name) add(l2, h("span", "muted", a.person_id));
    if (a.office_id) add(l2, h("span", "muted office", L.officeName(a)));
    if (a.zone_name) add(l2, h("span", "zone", a.zone_name));
    const side = add(h("span", "side"),
      h("span", "ago", I.relative(a.opened_at, now)),
      h("span", "abs", I.clock(a.opened_at)),
      add(h("span", "states"), badge(`handling h-${a.handling}`, I.w("handling", a.handling)),
        badge(`cond c-${a.condition}`, I.w("conditions", a.condition))));
    link.replaceChildren(add(h("span", "main"), l1, l2), side);
    person.textContent = I.t("open_person_short");
    person.setAttribute("aria-label", `${I.t("open_person")}：${who}`);
    person.hidden = !a.person_id;
  }

  function markSelected() {
    for (const [id, li] of R.rows) li.classList.toggle("selected", S.selected === id);
  }

  function redraw(id) { const li = R.rows.get(id); if (li) fill(li, R.alerts.get(id), Date.now()); }

  function rowLink(id) { const li = R.rows.get(id); return li ? li.querySelector("a.open") : null; }

  function refreshTimes() { const now = Date.now(); for (const [id, li] of R.rows) fill(li, R.alerts.get(id), now); footer(); }

  // -- tabs and filters ----------------------------------------------------------------------
  let tabsFrame = 0;
  function renderTabsSoon() {
    if (!tabsFrame) tabsFrame = requestAnimationFrame(() => { tabsFrame = 0; renderTabs(); });
  }

  function renderTabs() {
    const c = R.counts;
    const n = { open: c.new + c.acknowledged, new: c.new, acknowledged: c.acknowledged, resolved: c.resolved };
    for (const b of document.querySelectorAll("#tabs button")) {
      const tab = b.dataset.tab;
      b.setAttribute("aria-pressed", S.f.tab === tab ? "true" : "false");
      b.replaceChildren(h("span", null, I.t(`tab_${tab}`)), h("span", "n", String(n[tab])));
    }
  }

  function renderFilters() {
    const office = $("filter-office"), type = $("filter-type"), sev = $("filter-severity");
    office.replaceChildren(new Option(I.t("all_offices"), ""));
    const names = (S.me && S.me.office_names) || {};
    for (const id of (S.me ? S.me.offices : [])) office.add(new Option(names[id] || id, id));
    office.value = S.f.office;
    type.replaceChildren(new Option(I.t("all_types"), ""));
    for (const code of Object.keys((I.words && I.words.types) || {})) type.add(new Option(I.w("types", code), code));
    type.value = S.f.type;
    sev.replaceChildren(new Option(I.t("all_severities"), ""));
    for (const code of ["critical", "high", "medium", "low"]) sev.add(new Option(I.w("severities", code), code));
    sev.value = S.f.severity;
    $("filter-mine").checked = S.f.mine;
    $("filter-person").value = S.f.person;
    $("filter-person").placeholder = I.t("person_placeholder");
    $("filter-from").value = S.f.from;
    $("filter-to").value = S.f.to;
    $("view-live").setAttribute("aria-pressed", S.view === "live" ? "true" : "false");
    $("view-drill").setAttribute("aria-pressed", S.view === "drill" ? "true" : "false");
    show($("drill-banner"), S.view === "drill");
    document.body.classList.toggle("drill-view", S.view === "drill");
    renderTabs();
  }

  function reload() {
    R.window = PAGE;
    R.alerts.clear(); R.order = []; R.checked.clear();
    load();
  }

  function setFilter(patch) { Object.assign(S.f, patch); renderFilters(); reload(); }

  function showCriticalNew() {
    setFilter({ tab: "new", severity: "critical", mine: false, office: "", type: "", person: "", from: "", to: "" });
  }

  function boot() {
    for (const b of document.querySelectorAll("#tabs button")) b.addEventListener("click", () => setFilter({ tab: b.dataset.tab }));
    $("filter-office").addEventListener("change", (e) => setFilter({ office: e.target.value }));
    $("filter-type").addEventListener("change", (e) => setFilter({ type: e.target.value }));
    $("filter-severity").addEventListener("change", (e) => setFilter({ severity: e.target.value }));
    $("filter-mine").addEventListener("change", (e) => setFilter({ mine: e.target.checked }));
    $("filter-from").addEventListener("change", (e) => setFilter({ from: e.target.value }));
    $("filter-to").addEventListener("change", (e) => setFilter({ to: e.target.value }));
    let typingTimer = null;
    $("filter-person").addEventListener("input", (e) => {
      clearTimeout(typingTimer);
      typingTimer = setTimeout(() => { S.f.person = e.target.value; reload(); }, 300);
    });
    $("more").addEventListener("click", more);
  }

  return { R, load, reload, push, pushRaw, busy, renderFilters, renderTabs, markSelected, rowLink, redraw, refreshTimes,
    setFilter, showCriticalNew, boot, rebuild, get: (id) => R.alerts.get(id) };
})();
