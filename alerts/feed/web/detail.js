// An alert's detail (签收 and 处置 at its top, then the facts, the map, the route and the
// history) and the person panel (person.js). On a phone the panel is a full screen of its own.
"use strict";

window.Lookout.detail = (function () {
  const L = window.Lookout;
  const { I, $, S, h, add, show, badge, paren } = L;

  function shown() { return !$("detail").hidden; }

  function open(panel) {
    const was = shown();
    show($("detail"), true);
    document.body.classList.add("detail-open");
    if (!was) $("detail").scrollTop = 0;
    L.list.markSelected();
  }

  // -- alert ---------------------------------------------------------------------------------
  async function openAlert(id) {
    S.personId = null; S.person = null;
    const changed = S.selected !== id;
    S.selected = id;
    L.list.markSelected();
    L.attention.opened(L.list.get(id));
    L.list.redraw(id);
    try {
      const d = await L.api(`/v1/alerts/${encodeURIComponent(id)}`);
      if (S.selected !== id) return;
      S.detail = d;
      render();
      if (changed) { $("detail").scrollTop = 0; focusHeading(); }
    } catch (err) {
      if (err.status === 404) { L.app.closeDetail(); showGone(); }
    }
  }

  function showGone() {
    const n = $("list-notice");
    n.textContent = I.t("alert_gone");
    show(n, true);
    setTimeout(() => show(n, false), 6000);
  }

  function focusHeading() {
    const heading = $("detail-body").querySelector("h2");
    if (heading) { heading.tabIndex = -1; heading.focus({ preventScroll: true }); }
  }

  function close() {
    S.selected = null; S.detail = null; S.personId = null; S.person = null;
    show($("detail"), false);
    document.body.classList.remove("detail-open");
    L.list.markSelected();
  }

  function fact(dl, label, value, cls) {
    if (value === null || value === undefined || value === "") return;
    add(dl, h("dt", null, label), h("dd", cls || null, value));
  }

  function render() {
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
        a.late ? badge("late", I.t("late")) : null,
        h("span", "ago", I.relative(a.opened_at, now))),
      h("h2", "type", I.w("types", a.type)),
      add(h("div", "who-line"), personButton(a),
        a.person_id ? h("span", "muted", a.person_id) : null),
      h("p", "message", a.message[I.lang]));
    head.querySelector("h2").id = "detail-title";
    const states = add(h("div", "states big"), badge(`handling h-${a.handling}`, I.w("handling", a.handling)),
      badge(`cond c-${a.condition}`, I.w("conditions", a.condition)));
    states.id = "detail-handling";
    const status = add(h("div", "status-row"), states);
    if (a.handling === "new") {
      const ack = h("button", "primary big", I.w("actions", "acknowledge"));
      ack.type = "button"; ack.id = "ack-button";
      ack.addEventListener("click", () => act(a.alert_id, "acknowledge", null, ack));
      add(status, ack);
    }
    const actions = h("div", "actions");
    if (a.handling !== "resolved") add(actions, resolveForm(a, keep));
    if (a.resolution) {
      const r = a.resolution;
      add(actions, add(h("div", "resolution"),
        h("strong", null, I.w("dispositions", r.disposition)),
        h("span", "muted", ` · ${I.t("resolved_by")} ${r.by_name || r.by} · ${I.clock(r.at)}`),
        r.note ? h("p", null, r.note) : null));
    }
    const err = h("p", "error"); err.id = "action-error"; err.hidden = true;
    err.setAttribute("role", "status");

    const dl = h("dl", "facts");
    fact(dl, I.t("opened"), I.clock(a.opened_at) + paren(I.relative(a.opened_at, now)));
    fact(dl, I.t("last_event"), a.last_event_at ? I.clock(a.last_event_at) + paren(I.relative(a.last_event_at, now)) : null);
    fact(dl, I.t("cleared"), a.cleared_at ? I.clock(a.cleared_at) : null);
    fact(dl, I.t("officer"), a.officer_name || a.officer_id);
    fact(dl, I.t("office"), L.officeName(a));
    fact(dl, I.t("zone"), a.zone_name || a.zone_id);
    fact(dl, I.t("accuracy"), a.location && a.location.accuracy_m != null ? `${Math.round(a.location.accuracy_m)} ${I.t("metres")}` : null);
    fact(dl, I.t("events"), String(a.event_count));
    if (a.late) fact(dl, I.t("late"), I.t("late_note"));

    const mapWrap = h("figure", "map-wrap");
    const map = window.LookoutMap.draw({
      zone: d.zone, track: d.track ? d.track.points : [], location: a.location,
      labels: { none: I.t("map_none"), north: I.t("north"), m: I.t("metres"), km: I.t("km") },
    });
    // the drawing is an image: say what it shows (the legend below names its parts)
    if (map && map.setAttribute && !map.getAttribute("aria-label")) map.setAttribute("aria-label", I.t("map_label"));
    add(mapWrap, map);
    add(mapWrap, add(h("figcaption", "legend"),
      d.zone ? add(h("span", `key zone ${d.zone.properties.kind}`), h("i"), document.createTextNode(`${I.t("map_zone")}${I.lang === "zh" ? "：" : ": "}${d.zone.properties.name}`)) : null,
      add(h("span", "key track"), h("i"), document.createTextNode(I.t("map_track") + paren(d.track ? d.track.points.length : 0))),
      a.location ? add(h("span", "key location"), h("i"), document.createTextNode(I.t("map_location"))) : null));

    const hist = h("ol", "history");
    const versions = [...d.history].sort((x, y) => x.version - y.version);
    versions.forEach((v, i) => {
      hist.prepend(add(h("li"), h("span", "v", `v${v.version}`), h("span", null, changes(versions[i - 1], v))));
    });
    const route = h("ol", "route");
    for (const s of a.route || []) {
      const reason = I.t("role_reason")[s.reason] || s.reason;
      add(route, add(h("li"), h("span", null, I.clock(s.at)),
        h("span", null, (s.name || s.officer_id || "—") + paren(I.w("roles", s.role === "operator" ? "admin" : s.role))),
        h("span", "muted", reason)));
    }

    body.replaceChildren(head, status, err, actions, dl, mapWrap,
      h("h3", null, I.t("route")), route, h("h3", null, I.t("history")), hist);
    open();
    if (focused && $(focused)) $(focused).focus();
  }

  // the person's name opens their panel
  function personButton(a) {
    const text = a.person_name || a.person_id || "—";
    if (!a.person_id) return h("span", "person", text);
    const b = h("button", "person person-link", text);
    b.type = "button";
    b.setAttribute("aria-label", `${I.t("open_person")}：${text}`);
    b.addEventListener("click", () => L.app.openPerson(a.person_id));
    return b;
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
    if (v.resolution && !prev.resolution) out.push(`${I.w("dispositions", v.resolution.disposition)} · ${v.resolution.by_name || v.resolution.by}`);
    return out.join(" · ") || "—";
  }

  function dispositionSelect(id, value) {
    const select = h("select"); select.id = id; select.required = true;
    select.add(new Option(I.t("choose"), ""));
    for (const code of Object.keys(I.words.dispositions)) select.add(new Option(I.w("dispositions", code), code));
    if (value) select.value = value;
    return select;
  }

  function resolveForm(a, keep) {
    const form = h("form", "resolve");
    form.id = "resolve-form";
    const select = dispositionSelect("resolve-disposition", keep.disposition);
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
      const res = await L.api(`/v1/alerts/${encodeURIComponent(id)}/${kind}`, { method: "POST", body: body || undefined });
      L.list.push(res.alert);
      if (S.detail && S.detail.alert.alert_id === id && S.detail.alert.version < res.alert.version) {
        S.detail.alert = res.alert;
        if (!S.detail.history.some((x) => x.version === res.alert.version)) S.detail.history.push(res.alert);
      }
      if (kind === "resolve") { const n = $("resolve-note"); if (n) n.value = ""; }
      render();
      if (res.pending) {  // Kafka mode: the workers' answer comes on the stream
        const note = $("action-error");
        if (note) { note.textContent = I.t("action_pending"); note.className = "notice"; show(note, true); }
      }
    } catch (e) {
      const box = $("action-error");
      if (box) { box.className = "error"; box.textContent = L.problemText(e); show(box, true); }
    } finally {
      button.disabled = false;
    }
  }

  // a live update of the open alert
  function updated(a) {
    if (S.selected === a.alert_id && S.detail && S.detail.alert.version < a.version) {
      S.detail.alert = a;
      if (!S.detail.history.some((x) => x.version === a.version)) S.detail.history.push(a);
      render();
    }
  }

  // shortcuts: a = acknowledge, r = go to the 处置 form
  function acknowledgeOpen() { const b = $("ack-button"); if (b && !b.disabled) b.click(); }
  function resolveOpen() {
    const s = $("resolve-disposition");
    if (s) { s.scrollIntoView({ block: "center" }); s.focus(); }
  }

  // -- person panel --------------------------------------------------------------------------
  async function openPerson(pid) {
    S.selected = null; S.detail = null; S.personId = pid;
    L.list.markSelected();
    try {
      const d = await L.api(`/v1/persons/${encodeURIComponent(pid)}`);
      if (S.personId !== pid) return;
      S.person = d;
      renderPerson();
      $("detail").scrollTop = 0;
      focusHeading();
    } catch (err) {
      if (S.personId === pid) L.app.closeDetail();
    }
  }

  // a burst of updates about the open person reloads their panel once
  let personTimer = null;
  function personUpdated(a) {
    if (!S.personId || a.person_id !== S.personId) return;
    clearTimeout(personTimer);
    personTimer = setTimeout(() => { if (S.personId) openPerson(S.personId); }, 800);
  }

  function renderPerson() {
    if (!S.person) return;
    const body = $("detail-body");
    body.dataset.alertId = "";
    body.replaceChildren(window.LookoutPerson.render(S.person, {
      I, h, add, badge, paren, openAlert: (id) => L.app.go(id),
    }));
    open();
  }

  function rerender() { if (S.person) renderPerson(); else render(); }

  return { openAlert, close, render, rerender, updated, openPerson, personUpdated, acknowledgeOpen,
    resolveOpen, dispositionSelect, shown };
})();
