// The person panel (GET /v1/persons/{id}): is the person heard from, where were they lately,
// what is open, are they on leave, and what happened in what order. Like app.js, every piece
// of data goes into the page through textContent.
"use strict";

window.LookoutPerson = (function () {
  const WORDS = {
    zh: { phone: "电话", address: "居住地", zones: "区域", inclusion: "活动范围", exclusion: "禁入区域",
      last_place: "最后位置", playback: "轨迹回放", from: "从", to: "至", load: "查询", play: "播放",
      pause: "暂停", speed: "速度", position: "回放位置", no_fixes: "该时段无定位",
      truncated: (n) => `定位过多，仅显示最近 ${n} 个，请缩短时间范围`, fixes: (n) => `${n} 个定位`,
      bad_range: "开始时间须早于结束时间", more_zones: (n) => `另有 ${n} 个区域未显示` },
    en: { phone: "Phone", address: "Address", zones: "Zones", inclusion: "allowed area", exclusion: "no-go zone",
      last_place: "Last location", playback: "Track playback", from: "From", to: "To", load: "Show", play: "Play",
      pause: "Pause", speed: "Speed", position: "Playback position", no_fixes: "No fixes in this period",
      truncated: (n) => `Too many fixes: only the latest ${n}; shorten the period`, fixes: (n) => `${n} fixes`,
      bad_range: "The start must be before the end", more_zones: (n) => `${n} more zones not shown` },
  };
  function tr(I, key, arg) { const v = WORDS[I.lang === "en" ? "en" : "zh"][key]; return typeof v === "function" ? v(arg) : v; }
  // 5,000 fixes: a week at one a minute would be more; the server says when it cut
  const PLAYBACK_LIMIT = 5000;
  const SPEEDS = [60, 600, 3600];  // seconds of track per second of playback

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
    add(root, contact(p, ctx));

    if (d.status) add(root, statusRow(d.status, ctx, now));

    const last = d.status && d.status.last_fix;
    const mapWrap = h("figure", "map-wrap");
    const map = window.LookoutMap.draw({
      zone: d.zone, zones: d.zones || [], track: d.track.points,
      location: last ? { lat: last.lat, lon: last.lon, accuracy_m: last.accuracy_m } : null,
      labels: { none: I.t("map_none"), north: I.t("north"), m: I.t("metres"), km: I.t("km") },
    });
    add(mapWrap, map);
    const trackKey = add(h("span", "key track"), h("i"), document.createTextNode(I.t("map_track") + paren(d.track.points.length)));
    add(mapWrap, add(h("figcaption", "legend"),
      (d.zones || []).some((z) => z.properties.kind === "inclusion") ? add(h("span", "key zone inclusion"), h("i"), document.createTextNode(tr(I, "inclusion"))) : null,
      (d.zones || []).some((z) => z.properties.kind === "exclusion") ? add(h("span", "key zone exclusion"), h("i"), document.createTextNode(tr(I, "exclusion"))) : null,
      trackKey,
      last ? add(h("span", "key location"), h("i"), document.createTextNode(I.t("last_fix"))) : null));
    add(root, mapWrap);
    if (!d.released) add(root, playback(d, map, trackKey, ctx));
    add(root, zoneList(d, ctx));

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
    if (st.last_fix) {
      const f = st.last_fix;
      fact(tr(I, "last_place"), `${f.lat.toFixed(6)}, ${f.lon.toFixed(6)}` + (f.accuracy_m != null ? ` ±${Math.round(f.accuracy_m)} ${I.t("metres")}` : ""));
    }
    fact(I.t("silence_timeout"), `${Math.round(st.silence_timeout_s / 60)} ${I.t("minutes")}`);
    return add(h("div", "person-status-block"), row, dl);
  }

  // phone (a tel: link, to call from a phone or a desk softphone) and address
  function contact(p, ctx) {
    const { I, h, add } = ctx;
    const dl = h("dl", "facts contact");
    if (p.phone) {
      const a = h("a", "tel", p.phone);
      a.href = `tel:${p.phone.replace(/[\s-]/g, "")}`;
      add(dl, h("dt", null, tr(I, "phone")), add(h("dd"), a));
    }
    if (p.address) add(dl, h("dt", null, tr(I, "address")), h("dd", null, p.address));
    return dl.childElementCount ? dl : null;
  }

  function zoneList(d, ctx) {
    const { I, h, add, badge } = ctx;
    const zones = d.zones || [];
    const wrap = add(h("div", "person-zones"), h("h3", null, `${tr(I, "zones")}${ctx.paren(d.zones_total || zones.length)}`));
    const ul = h("ul", "zone-list");
    for (const z of zones) {
      const kind = z.properties.kind;
      add(ul, add(h("li", `zone-${kind}`), badge(`zone-kind ${kind}`, tr(I, kind)), h("span", null, z.properties.name),
        z.properties.radius_m ? h("span", "muted", `${Math.round(z.properties.radius_m)} ${I.t("metres")}`) : null));
    }
    add(wrap, zones.length ? ul : h("p", "muted none-line", I.t("none")));
    if (d.zones_total > zones.length) add(wrap, h("p", "muted", tr(I, "more_zones", d.zones_total - zones.length)));
    return wrap;
  }

  // -- track playback over a period: from/to, play/pause, speed and a time slider ------------
  // <input type=datetime-local> speaks the browser's wall clock; so does the position shown
  function local(ms, seconds) {
    const d = new Date(ms - new Date(ms).getTimezoneOffset() * 60000).toISOString();
    return seconds ? d.slice(5, 19).replace("T", " ") : d.slice(0, 16);
  }
  const withMs = (pts) => pts.map((p) => ({ ...p, ms: typeof p.ts === "number" ? p.ts : Date.parse(p.ts) }));

  // The panel is redrawn by live updates and a 30 s refresh: what the officer set up here
  // (period, loaded track, position, playing) lives on, for the same person.
  let kept = null;

  function playback(d, map, trackKey, ctx) {
    const { I, h, add } = ctx;
    const pid = d.person.person_id;
    if (!kept || kept.pid !== pid) {
      kept = { pid, from: local(d.track.since_ms), to: local(d.track.until_ms), points: null,
        note: null, value: null, speed: String(SPEEDS[1]), playing: false };
    }
    const box = add(h("section", "playback"), h("h3", null, tr(I, "playback")));
    box.setAttribute("aria-label", tr(I, "playback"));
    const field = (label, input) => add(h("label", "pb-field"), h("span", null, label), input);
    const from = h("input"); from.type = "datetime-local"; from.id = "pb-from"; from.value = kept.from;
    const to = h("input"); to.type = "datetime-local"; to.id = "pb-to"; to.value = kept.to;
    const load = h("button", "secondary pb-load", tr(I, "load")); load.type = "button"; load.id = "pb-load";
    const play = h("button", "primary pb-play", tr(I, "play")); play.type = "button"; play.id = "pb-play";
    const speed = h("select"); speed.id = "pb-speed";
    for (const s of SPEEDS) speed.add(new Option(`${s}×`, String(s)));
    speed.value = kept.speed;
    const slider = h("input", "pb-slider"); slider.type = "range"; slider.id = "pb-slider";
    slider.setAttribute("aria-label", tr(I, "position"));
    const at = h("output", "pb-at", ""); at.id = "pb-at";
    // kept as a phrase and its number, so that it follows a change of language
    const say = (key, arg) => { kept.note = key ? [key, arg] : null; note.textContent = key ? tr(I, key, arg) : ""; };
    const note = h("p", "muted pb-note", kept.note ? tr(I, ...kept.note) : ""); note.id = "pb-note"; note.setAttribute("role", "status");
    add(box, add(h("div", "pb-range"), field(tr(I, "from"), from), field(tr(I, "to"), to), load),
      add(h("div", "pb-controls"), play, field(tr(I, "speed"), speed), slider, at), note);

    let points = kept.points || withMs(d.track.points);
    if (kept.points) map.mapApi.setTrack(points);
    let timer = null, t0 = 0, t1 = 0;
    const cursorAt = (ms) => {  // the last fix at or before ms
      let lo = 0, hi = points.length - 1, best = -1;
      while (lo <= hi) { const mid = (lo + hi) >> 1; if (points[mid].ms <= ms) { best = mid; lo = mid + 1; } else hi = mid - 1; }
      return best >= 0 ? points[best] : null;
    };
    const show = () => {
      const ms = Number(slider.value);
      kept.value = ms;
      at.textContent = local(ms, true);
      map.mapApi.setCursor(cursorAt(ms));
    };
    const reset = (value) => {
      t0 = points.length ? points[0].ms : 0; t1 = points.length ? points[points.length - 1].ms : 0;
      slider.min = String(t0); slider.max = String(t1); slider.step = "any";
      // at the end until played: the cursor sits on the latest fix, where the map starts
      slider.value = String(value != null && value >= t0 && value <= t1 ? value : t1);
      slider.disabled = play.disabled = points.length < 2;
      trackKey.lastChild.textContent = I.t("map_track") + ctx.paren(points.length);
      // no cursor until the officer plays or moves the slider: the last fix is drawn already
      if (points.length && value != null) show();
      else { at.textContent = points.length ? local(Number(slider.value), true) : ""; map.mapApi.setCursor(null); }
    };
    const stop = () => { clearInterval(timer); timer = null; kept.playing = false; play.textContent = tr(I, "play"); };
    const start = () => {
      if (Number(slider.value) >= t1) slider.value = String(t0);
      play.textContent = tr(I, "pause");
      kept.playing = true;
      const TICK = 100;
      timer = setInterval(() => {
        if (!box.isConnected) { clearInterval(timer); return; }  // redrawn: the new panel goes on
        const next = Math.min(t1, Number(slider.value) + Number(speed.value) * TICK);
        slider.value = String(next);
        show();
        if (next >= t1) stop();
      }, TICK);
    };
    play.addEventListener("click", () => (timer ? stop() : start()));
    slider.addEventListener("input", () => { stop(); show(); });
    speed.addEventListener("change", () => { kept.speed = speed.value; });
    from.addEventListener("change", () => { kept.from = from.value; });
    to.addEventListener("change", () => { kept.to = to.value; });
    load.addEventListener("click", async () => {
      stop();
      const since = Date.parse(from.value), until = Date.parse(to.value);
      if (!(since < until)) { say("bad_range"); return; }
      load.disabled = true;
      try {
        const q = new URLSearchParams({ since_ms: String(since), until_ms: String(until), limit: String(PLAYBACK_LIMIT) });
        const res = await window.LookoutApp.api(`/v1/persons/${encodeURIComponent(pid)}/track?${q}`);
        points = kept.points = withMs(res.points);
        map.mapApi.setTrack(points);
        if (res.truncated) say("truncated", points.length);
        else say(points.length ? "fixes" : "no_fixes", points.length);
        kept.value = null;
        reset(null);
      } catch (e) {
        note.textContent = I.t("network_error");
      } finally {
        load.disabled = false;
      }
    });
    reset(kept.value);
    if (kept.playing) start();
    return box;
  }

  function alertList(alerts, ctx, now) {
    const { I, h, add, badge } = ctx;
    const ol = h("ol", "person-alerts");
    for (const a of alerts) {
      // a button inside the item, not an item acting as one: a list holds list items
      const open = add(h("button", "pa-open"),
        badge(`sev sev-${a.severity}`, I.w("severities", a.severity)),
        h("span", "type-small", I.w("types", a.type)),
        h("span", "muted", I.relative(a.opened_at, now)),
        badge(`handling h-${a.handling}`, I.w("handling", a.handling)));
      open.type = "button";
      open.addEventListener("click", () => ctx.openAlert(a.alert_id));
      add(ol, add(h("li", `sev-${a.severity}`), open));
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
