// The map of an alert or a person: zones (inclusion and exclusion), the track, the location,
// a scale, and the coordinates of a point with a copy button. Drawn as inline SVG at once;
// when the bundle names a tile service (GET /v1/map, settings.toml [map_tiles]) and Lookout
// serves Leaflet, the SVG gives way to a Leaflet map over those tiles. Nothing loads from a
// CDN, and tiles come only from the configured service (the page's CSP says so too).
"use strict";

window.LookoutMap = (function () {
  const NS = "http://www.w3.org/2000/svg";
  const W = 640, H = 400, PAD = 28;
  const M_PER_DEG_LAT = 110574;
  // Below this span (metres) a lone fix would be drawn at an absurd zoom.
  const MIN_SPAN_M = 400;
  // A zone much larger than what happened (a whole county) would shrink the track to a dot:
  // then the view fits the track and the location, and the zone's edge runs through it.
  const ZONE_FOCUS_RATIO = 6;
  // A zone drawn smaller than this (px across) gets a ring of this size: a 150 m venue must
  // stay visible on a 10 km view, and not vanish under the location's dot.
  const MIN_ZONE_PX = 22;

  const WORDS = {
    zh: { copy: "复制坐标", copied: "已复制", copy_failed: "无法复制，请手动选择", coords: "坐标（WGS-84）",
      pick: "点击地图可取该点坐标", map_label: "地图：区域、轨迹与位置" },
    en: { copy: "Copy coordinates", copied: "Copied", copy_failed: "Cannot copy: select the text", coords: "Coordinates (WGS-84)",
      pick: "Click the map for a point's coordinates", map_label: "Map: zones, track and location" },
  };
  const t = (k) => WORDS[window.LookoutI18n.lang === "en" ? "en" : "zh"][k];

  // -- the base map's configuration, asked once per login --------------------------------------
  let configFor = null, configP = null;
  function config() {
    const token = sessionStorage.getItem("lookout.token");
    if (!token) return Promise.resolve(null);
    if (configFor !== token) {
      configFor = token;
      configP = fetch("/v1/map", { headers: { Authorization: `Bearer ${token}`, Accept: "application/json" } })
        .then((r) => (r.ok ? r.json() : null)).catch(() => null);
    }
    return configP;
  }

  let leafletP = null;
  function loadLeaflet(base) {
    if (window.L) return Promise.resolve(window.L);
    if (!leafletP) {
      leafletP = new Promise((resolve, reject) => {
        const css = document.createElement("link");
        css.rel = "stylesheet"; css.href = `${base}leaflet.css`;
        document.head.appendChild(css);
        const js = document.createElement("script");
        js.src = `${base}leaflet.js`;
        js.onload = () => resolve(window.L);
        js.onerror = () => { leafletP = null; reject(new Error("leaflet")); };
        document.head.appendChild(js);
      });
    }
    return leafletP;
  }

  // -- GCJ-02: tiles in it (AMap-style) need what is drawn on them shifted the same way ------
  // The published closed form, as geofences/crs.py implements it; outside China no shift.
  function gcjOffset(lat, lon) {
    if (lon < 72.004 || lon > 137.8347 || lat < 0.8293 || lat > 55.8271) return [0, 0];
    const A = 6378245.0, EE = 0.00669342162296594323, PI = Math.PI;
    const x = lon - 105.0, y = lat - 35.0;
    const ripple = ((20 * Math.sin(6 * x * PI) + 20 * Math.sin(2 * x * PI)) * 2) / 3;
    const tLat = -100 + 2 * x + 3 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * Math.sqrt(Math.abs(x)) + ripple
      + ((20 * Math.sin(y * PI) + 40 * Math.sin((y / 3) * PI)) * 2) / 3
      + ((160 * Math.sin((y / 12) * PI) + 320 * Math.sin((y * PI) / 30)) * 2) / 3;
    const tLon = 300 + x + 2 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * Math.sqrt(Math.abs(x)) + ripple
      + ((20 * Math.sin(x * PI) + 40 * Math.sin((x / 3) * PI)) * 2) / 3
      + ((150 * Math.sin((x / 12) * PI) + 300 * Math.sin((x / 30) * PI)) * 2) / 3;
    const rad = (lat / 180) * PI;
    const magic = 1 - EE * Math.sin(rad) ** 2, sq = Math.sqrt(magic);
    return [(tLat * 180) / (((A * (1 - EE)) / (magic * sq)) * PI), (tLon * 180) / ((A / sq) * Math.cos(rad) * PI)];
  }
  function toGcj(lat, lon) { const [dy, dx] = gcjOffset(lat, lon); return [lat + dy, lon + dx]; }
  function fromGcj(lat, lon) {  // no closed form: a few fixed-point rounds, as on the server
    let y = lat, x = lon;
    for (let i = 0; i < 5; i++) { const [gy, gx] = toGcj(y, x); y += lat - gy; x += lon - gx; }
    return [y, x];
  }

  // -- shared helpers ------------------------------------------------------------------------
  function el(name, attrs, parent) {
    const node = document.createElementNS(NS, name);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
    if (parent) parent.appendChild(node);
    return node;
  }
  function h(tag, cls, text) {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function rings(geometry) {
    if (!geometry) return [];
    if (geometry.type === "Polygon") return geometry.coordinates;
    if (geometry.type === "MultiPolygon") return geometry.coordinates.flat();
    return [];
  }
  function zoneKind(z) { return (z.properties && z.properties.kind) || "inclusion"; }
  function zonesOf(opts) {
    const out = (opts.zones || []).slice();
    if (opts.zone && !out.some((z) => z.properties.zone_id === opts.zone.properties.zone_id)) out.unshift(opts.zone);
    return out;
  }

  function box() { return { x0: Infinity, y0: Infinity, x1: -Infinity, y1: -Infinity }; }
  function grow(b, x, y, r) {
    r = r || 0;
    b.x0 = Math.min(b.x0, x - r); b.x1 = Math.max(b.x1, x + r);
    b.y0 = Math.min(b.y0, y - r); b.y1 = Math.max(b.y1, y + r);
  }
  function span(b) { return Math.max(b.x1 - b.x0, b.y1 - b.y0); }
  function empty(b) { return !isFinite(b.x0); }

  function niceLength(m) {
    const p = Math.pow(10, Math.floor(Math.log10(m)));
    for (const k of [5, 2, 1]) if (k * p <= m) return k * p;
    return p;
  }
  function fmtCoord(lat, lon) { return `${lat.toFixed(6)}, ${lon.toFixed(6)}`; }

  // -- the coordinates line: a point's lat, lon (WGS-84) and a copy button --------------------
  function coordLine(point) {
    const line = h("div", "map-coords");
    const label = h("span", "muted", t("coords"));
    const value = h("output", "coords-value", point ? fmtCoord(point.lat, point.lon) : "—");
    value.setAttribute("aria-live", "polite");
    const copy = h("button", "ghost-small copy-coords", t("copy"));
    copy.type = "button";
    copy.disabled = !point;
    const note = h("span", "muted copy-note", "");
    note.setAttribute("role", "status");
    copy.addEventListener("click", async () => {
      try {
        await navigator.clipboard.writeText(value.textContent);
        note.textContent = t("copied");
      } catch (e) {
        const range = document.createRange(); range.selectNodeContents(value);
        const sel = window.getSelection(); sel.removeAllRanges(); sel.addRange(range);
        note.textContent = t("copy_failed");
      }
      setTimeout(() => { note.textContent = ""; }, 2500);
    });
    line.append(label, value, copy, note);
    line.set = (p) => { value.textContent = fmtCoord(p.lat, p.lon); copy.disabled = false; };
    return line;
  }

  // -- the SVG map ---------------------------------------------------------------------------
  // state: {zones, track, location, cursor, labels}; returns the svg and where a point falls
  function drawSvg(state, onPick) {
    const svg = el("svg", { viewBox: `0 0 ${W} ${H}`, class: "map", role: "img", "aria-label": t("map_label") });
    const pts = state.track.filter((p) => isFinite(p.lat) && isFinite(p.lon));
    const loc = state.location && isFinite(state.location.lat) ? state.location : null;
    const zones = state.zones.map((z) => ({ z, rings: rings(z.geometry) })).filter((x) => x.rings.length);
    const all = pts.concat(loc ? [loc] : []);
    const firstRing = zones.length && zones[zones.length - 1].rings[0];
    const anchor = all[0] || (firstRing && { lon: firstRing[0][0], lat: firstRing[0][1] });
    el("rect", { x: 0, y: 0, width: W, height: H, class: "map-bg" }, svg);
    if (!anchor) {
      el("text", { x: W / 2, y: H / 2, class: "map-none", "text-anchor": "middle" }, svg)
        .textContent = state.labels.none;
      return svg;
    }
    // local metres around the anchor, y up
    const kx = M_PER_DEG_LAT * Math.cos((anchor.lat * Math.PI) / 180);
    const proj = (lon, lat) => [(lon - anchor.lon) * kx, (lat - anchor.lat) * M_PER_DEG_LAT];

    const focus = box();
    for (const p of pts) grow(focus, ...proj(p.lon, p.lat));
    if (loc) grow(focus, ...proj(loc.lon, loc.lat), Math.min(loc.accuracy_m || 0, 2000));
    const view = box();
    if (!empty(focus)) { grow(view, focus.x0, focus.y0); grow(view, focus.x1, focus.y1); }
    const reach = ZONE_FOCUS_RATIO * Math.max(empty(focus) ? 0 : span(focus), MIN_SPAN_M);
    for (const zr of zones) {
      const zb = box();
      for (const ring of zr.rings) for (const [lon, lat] of ring) grow(zb, ...proj(lon, lat));
      zr.box = zb;
      // a zone comes into view when it is not much larger than what happened, and near it
      const near = empty(focus) || Math.max(zb.x0 - focus.x1, focus.x0 - zb.x1, zb.y0 - focus.y1, focus.y0 - zb.y1) <= reach;
      if (empty(focus) || (span(zb) <= reach && near)) {
        grow(view, zb.x0, zb.y0); grow(view, zb.x1, zb.y1);
      }
    }
    const cx = (view.x0 + view.x1) / 2, cy = (view.y0 + view.y1) / 2;
    const spanX = Math.max(view.x1 - view.x0, MIN_SPAN_M), spanY = Math.max(view.y1 - view.y0, MIN_SPAN_M);
    const scale = Math.min((W - 2 * PAD) / spanX, (H - 2 * PAD) / spanY); // px per metre
    const px = (lon, lat) => {
      const [x, y] = proj(lon, lat);
      return [W / 2 + (x - cx) * scale, H / 2 - (y - cy) * scale];
    };
    const unpx = (x, y) => {
      const mx = (x - W / 2) / scale + cx, my = -(y - H / 2) / scale + cy;
      return { lat: anchor.lat + my / M_PER_DEG_LAT, lon: anchor.lon + mx / kx };
    };
    const fmt = (n) => n.toFixed(1);

    const small = [];
    for (const zr of zones) {
      const d = zr.rings.map((ring) => "M" + ring.map(([lon, lat]) => px(lon, lat).map(fmt).join(",")).join("L") + "Z").join("");
      const kind = zoneKind(zr.z);
      const path = el("path", { d, class: `map-zone ${kind}`, "fill-rule": "evenodd" }, svg);
      el("title", {}, path).textContent = zr.z.properties.name;
      if (span(zr.box) * scale < MIN_ZONE_PX) small.push(zr);
    }
    if (pts.length > 1) {
      el("polyline", { points: pts.map((p) => px(p.lon, p.lat).map(fmt).join(",")).join(" "), class: "map-track" }, svg);
    }
    // a dot per fix while they can be told apart; a long playback track is the line alone
    const dots = pts.length <= 500 ? pts : pts.slice(-1);
    dots.forEach((p, i) => {
      const [x, y] = px(p.lon, p.lat);
      el("circle", { cx: fmt(x), cy: fmt(y), r: i === dots.length - 1 ? 4.5 : 2.5,
        class: i === dots.length - 1 ? "map-fix last" : "map-fix" }, svg);
    });
    if (loc) {
      const [x, y] = px(loc.lon, loc.lat);
      const r = Math.max((loc.accuracy_m || 0) * scale, 9);
      el("circle", { cx: fmt(x), cy: fmt(y), r: fmt(r), class: "map-accuracy" }, svg);
      el("circle", { cx: fmt(x), cy: fmt(y), r: 7, class: "map-location" }, svg);
    }
    // small zones last, as rings of a visible size over everything: never under a dot
    for (const zr of small) {
      const [x, y] = px((zr.box.x0 + zr.box.x1) / 2 / kx + anchor.lon, (zr.box.y0 + zr.box.y1) / 2 / M_PER_DEG_LAT + anchor.lat);
      const ring = el("circle", { cx: fmt(x), cy: fmt(y), r: MIN_ZONE_PX / 2, class: `map-zone-mark ${zoneKind(zr.z)}` }, svg);
      el("title", {}, ring).textContent = zr.z.properties.name;
    }
    if (state.cursor) {
      const [x, y] = px(state.cursor.lon, state.cursor.lat);
      el("circle", { cx: fmt(x), cy: fmt(y), r: 6, class: "map-cursor" }, svg);
    }

    // scale bar, bottom left
    const barM = niceLength((W / 4) / scale);
    const barPx = barM * scale;
    const g = el("g", { class: "map-scale", transform: `translate(${PAD - 8},${H - 14})` }, svg);
    el("path", { d: `M0,-6V0H${fmt(barPx)}V-6` }, g);
    el("text", { x: fmt(barPx + 6), y: 0 }, g).textContent =
      barM >= 1000 ? `${barM / 1000} ${state.labels.km}` : `${barM} ${state.labels.m}`;
    // north arrow, top right: the map is drawn north up
    const n = el("g", { class: "map-north", transform: `translate(${W - 22},16)` }, svg);
    el("path", { d: "M0,0L6,16L0,12L-6,16Z" }, n);
    el("text", { x: 0, y: 30, "text-anchor": "middle" }, n).textContent = state.labels.north;

    svg.addEventListener("click", (e) => {
      const r = svg.getBoundingClientRect();
      onPick(unpx(((e.clientX - r.left) / r.width) * W, ((e.clientY - r.top) / r.height) * H));
    });
    return svg;
  }

  // -- the Leaflet map -----------------------------------------------------------------------
  function leafletMap(L, holder, state, tiles, onPick) {
    const shift = tiles.crs === "gcj02" ? toGcj : (lat, lon) => [lat, lon];
    const unshift = tiles.crs === "gcj02" ? fromGcj : (lat, lon) => [lat, lon];
    const ll = (lat, lon) => L.latLng(...shift(lat, lon));
    const map = L.map(holder, { attributionControl: false, zoomControl: true, maxZoom: tiles.max_zoom });
    const escape = (s) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
    L.control.attribution({ prefix: false }).addAttribution(escape(tiles.attribution || "")).addTo(map);
    const opts = { subdomains: tiles.subdomains || "abc", maxZoom: tiles.max_zoom, crossOrigin: false };
    L.tileLayer(tiles.url, opts).addTo(map);
    if (tiles.labels_url) L.tileLayer(tiles.labels_url, opts).addTo(map);
    L.control.scale({ imperial: false }).addTo(map);

    const focus = [];
    for (const z of state.zones) {
      const kind = zoneKind(z);
      const latlngs = rings(z.geometry).map((ring) => ring.map(([lon, lat]) => ll(lat, lon)));
      const poly = L.polygon(latlngs, { className: `map-zone ${kind}`, weight: 2 }).addTo(map);
      poly.bindTooltip(z.properties.name);
      if (kind === "exclusion") {
        // a fixed-size ring at the zone's centre: visible at any zoom
        L.circleMarker(poly.getBounds().getCenter(), { radius: MIN_ZONE_PX / 2, className: "map-zone-mark exclusion", interactive: false }).addTo(map);
      }
    }
    const trackLine = L.polyline(state.track.map((p) => ll(p.lat, p.lon)), { className: "map-track" }).addTo(map);
    for (const p of state.track) focus.push(ll(p.lat, p.lon));
    const lastFix = state.track.length ? state.track[state.track.length - 1] : null;
    if (lastFix) L.circleMarker(ll(lastFix.lat, lastFix.lon), { radius: 5, className: "map-fix last" }).addTo(map);
    if (state.location) {
      const at = ll(state.location.lat, state.location.lon);
      if (state.location.accuracy_m) L.circle(at, { radius: state.location.accuracy_m, className: "map-accuracy" }).addTo(map);
      L.circleMarker(at, { radius: 7, className: "map-location" }).addTo(map);
      focus.push(at);
    }
    const cursor = L.circleMarker([0, 0], { radius: 6, className: "map-cursor" });
    if (focus.length) map.fitBounds(L.latLngBounds(focus).pad(0.25), { maxZoom: 16 });
    else if (state.zones.length) map.fitBounds(L.geoJSON(state.zones[0]).getBounds().pad(0.1));
    else map.setView([29.08, 119.65], 11);
    map.on("click", (e) => { const [lat, lon] = unshift(e.latlng.lat, e.latlng.lng); onPick({ lat, lon }); });
    return {
      setTrack(points) {
        trackLine.setLatLngs(points.map((p) => ll(p.lat, p.lon)));
        if (points.length) map.fitBounds(trackLine.getBounds().pad(0.25), { maxZoom: 16 });
      },
      setCursor(p) {
        if (!p) { cursor.remove(); return; }
        cursor.setLatLng(ll(p.lat, p.lon)).addTo(map);
      },
    };
  }

  // -- the public face -------------------------------------------------------------------------
  // opts: {zone: Feature|null, zones: [Feature], track: [{lat, lon}], location: {lat, lon,
  //        accuracy_m}|null, labels: {none, north, m, km}}
  // Returns a <div class="map-box">: the map and the coordinates line. `box.mapApi`:
  // setTrack(points) and setCursor(point|null), for track playback.
  function draw(opts) {
    const state = { zones: zonesOf(opts), track: opts.track || [], location: opts.location || null,
      cursor: null, labels: opts.labels };
    const root = h("div", "map-box");
    const holder = h("div", "map-holder");
    const start = state.location || (state.track.length ? state.track[state.track.length - 1] : null);
    const coords = coordLine(start);
    const pick = (p) => coords.set(p);
    let leaflet = null;
    const redraw = () => { if (!leaflet) holder.replaceChildren(drawSvg(state, pick)); };
    redraw();
    root.append(holder, coords);
    root.mapApi = {
      setTrack(points) { state.track = points; if (leaflet) leaflet.setTrack(points); else redraw(); },
      setCursor(p) {
        state.cursor = p;
        if (p) coords.set(p);
        if (leaflet) leaflet.setCursor(p); else redraw();
      },
    };
    config().then(async (cfg) => {
      if (!cfg || !cfg.tiles || !cfg.leaflet) return;
      const L = await loadLeaflet(cfg.leaflet);
      // the panel may have been redrawn meanwhile: only a map on the page is upgraded
      for (let i = 0; i < 20 && !root.isConnected; i++) await new Promise((r) => requestAnimationFrame(r));
      if (!root.isConnected) return;
      const div = h("div", "map leaflet-map");
      div.setAttribute("role", "region");
      div.setAttribute("aria-label", t("map_label"));
      holder.replaceChildren(div);
      leaflet = leafletMap(L, div, state, cfg.tiles, pick);
      if (state.cursor) leaflet.setCursor(state.cursor);
      root.classList.add("tiled");
    }).catch(() => { /* no Leaflet: the SVG map stays */ });
    return root;
  }

  return { draw, toGcj, fromGcj };
})();
