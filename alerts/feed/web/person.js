// The person panel (GET /v1/persons/{id}): is the person heard from, where were they lately,
// what is open, are they on leave, and what happened in what order. Like app.js, every piece
// of data goes into the page through textContent.
"use strict";

window.LookoutPerson = (function () {
  // ctx: {I, h, add, badge, paren, openAlert(id)}
  function render(d, ctx) {
    const { I, h, add, badge, paren } = ctx;
    const now = Date.now();
    const p = d.person;
    const root = h("div", "person-panel");
    root.id = "person-panel";

    const head = add(h("div", "detail-head person-head"),
      add(h("div", "line1"), h("span", "kicker", I.t("person_panel")),
        d.released ? badge("released", I.t("released")) : null,
        badge(`risk risk-${p.risk}`, I.w("risks", p.risk)), deviceCheckBadge(d.device_check, ctx)),
      h("h2", "person-name", p.name),
      add(h("div", "who-line"), h("span", "muted", p.person_id), h("span", "muted", p.office_id),
        h("span", "muted", `${I.t("officer")}${I.lang === "zh" ? "：" : ": "}${p.officer_name || p.officer_id}`)));
    add(root, head);

    if (d.status) add(root, statusRow(d.status, ctx, now));

    const last = d.status && d.status.last_fix;
    const mapWrap = h("figure", "map-wrap");
    add(mapWrap, window.LookoutMap.draw({
      zone: d.zone, track: d.track.points,
      location: last ? { lat: last.lat, lon: last.lon, accuracy_m: last.accuracy_m } : null,
      labels: { none: I.t("map_none"), north: I.t("north"), m: I.t("metres"), km: I.t("km") },
    }));
    add(mapWrap, add(h("figcaption", "legend"),
      d.zone ? add(h("span", `key zone ${d.zone.properties.kind}`), h("i"), document.createTextNode(`${I.t("map_zone")}${I.lang === "zh" ? "：" : ": "}${d.zone.properties.name}`)) : null,
      add(h("span", "key track"), h("i"), document.createTextNode(I.t("map_track") + paren(d.track.points.length))),
      last ? add(h("span", "key location"), h("i"), document.createTextNode(I.t("last_fix"))) : null));
    add(root, mapWrap);

    const open = d.alerts.filter((a) => a.handling !== "resolved" || a.condition === "active");
    add(root, h("h3", null, `${I.t("open_alerts")}${paren(open.length)}`));
    add(root, open.length ? alertList(open, ctx, now) : h("p", "muted none-line", I.t("none")));

    add(root, h("h3", null, I.t("permits")));
    add(root, d.permits.length ? permitList(d.permits, ctx) : h("p", "muted none-line", I.t("no_permits")));

    add(root, h("h3", null, I.t("timeline")));
    add(root, d.timeline.length ? timeline(d.timeline, ctx) : h("p", "muted none-line", I.t("none")));
    return root;
  }

  // 需核查设备: officers keep resolving this person's alerts as false alarms or device faults
  // (the rule and its figures come from the server, alerts/fatigue.py). null when not needed.
  function deviceCheckBadge(dc, ctx) {
    if (!dc || !dc.needed) return null;
    const zh = ctx.I.lang === "zh";
    const b = ctx.badge("device-check", zh ? "需核查设备" : "Device check needed");
    const days = Math.round((Date.now() - dc.since_ms) / 86400000);
    b.title = zh
      ? `近 ${days} 天已处置 ${dc.resolved} 条告警，其中误报 ${dc.false_alarm} 条、设备故障 ${dc.device_fault} 条`
      : `Last ${days} days: ${dc.resolved} alerts resolved, ${dc.false_alarm} false alarms, ${dc.device_fault} device faults`;
    return b;
  }

  function statusRow(st, ctx, now) {
    const { I, h, add } = ctx;
    const row = h("div", "person-status");
    const chip = (cls, text) => h("span", `chip ${cls}`, text);
    if (st.silent) add(row, chip("bad", I.w("types", "signal_lost")));
    if (st.device_off) add(row, chip("bad", I.w("types", "device_off")));
    if (st.location_disabled) add(row, chip("bad", I.w("types", "location_disabled")));
    if (!st.silent && !st.device_off && !st.location_disabled) add(row, chip("ok", I.t("heard_from")));
    if (st.feed_down) add(row, chip("warn", I.w("types", "feed_down")));
    const dl = h("dl", "facts");
    const fact = (label, value) => { if (value) add(dl, h("dt", null, label), h("dd", null, value)); };
    const when = (at) => (at ? `${I.clock(at)}${ctx.paren(I.relative(at, now))}` : null);
    fact(I.t("last_seen"), when(st.last_seen) || I.t("never"));
    fact(I.t("last_fix"), st.last_fix ? when(st.last_fix.at) : I.t("never"));
    fact(I.t("silence_timeout"), `${Math.round(st.silence_timeout_s / 60)} ${I.t("minutes")}`);
    return add(h("div", null), row, dl);
  }

  function alertList(alerts, ctx, now) {
    const { I, h, add, badge } = ctx;
    const ol = h("ol", "person-alerts");
    for (const a of alerts) {
      const li = add(h("li", `sev-${a.severity}`),
        badge(`sev sev-${a.severity}`, I.w("severities", a.severity)),
        h("span", "type-small", I.w("types", a.type)),
        h("span", "muted", I.relative(a.opened_at, now)),
        badge(`handling h-${a.handling}`, I.w("handling", a.handling)));
      li.tabIndex = 0;
      li.setAttribute("role", "button");
      li.addEventListener("click", () => ctx.openAlert(a.alert_id));
      li.addEventListener("keydown", (e) => { if (e.key === "Enter") ctx.openAlert(a.alert_id); });
      add(ol, li);
    }
    return ol;
  }

  function permitList(permits, ctx) {
    const { I, h, add, badge } = ctx;
    const ol = h("ol", "person-permits");
    for (const p of permits) {
      add(ol, add(h("li"), badge(`permit-${p.state}`, I.t(`permit_${p.state}`)),
        h("span", null, `${I.clock(p.start)} – ${I.clock(p.revoked_at || p.end)}`),
        h("span", "muted", p.destination || ""), h("span", "muted", p.permit_id)));
    }
    return ol;
  }

  function timeline(entries, ctx) {
    const { I, h, add } = ctx;
    const ol = h("ol", "timeline");
    for (const e of entries) add(ol, add(h("li", `tl-${e.kind}`), h("span", "tl-at", I.clock(e.at)), h("span", null, line(e, ctx))));
    return ol;
  }

  function line(e, ctx) {
    const { I } = ctx;
    if (e.kind === "fixes") return I.t("tl_fixes", e.count) + (e.until && e.count > 1 ? ` → ${I.clock(e.until).slice(6)}` : "");
    if (e.kind === "status") return I.w("statuses", e.event);
    if (e.kind === "permit") return `${I.t(`tl_permit_${e.change}`)}${e.destination ? ctx.paren(e.destination) : ""}`;
    return `${I.w("types", e.type)} · ${I.t(`tl_${e.change}`)}`;
  }

  return { render };
})();
