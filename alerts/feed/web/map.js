// A small map as inline SVG: the zone's outline, the person's recent track and the alert's
// location, scaled to fit. No tiles: offices may run without internet, and a tile server
// would learn where every supervised person is.
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

  function el(name, attrs, parent) {
    const node = document.createElementNS(NS, name);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
    if (parent) parent.appendChild(node);
    return node;
  }

  function rings(geometry) {
    if (!geometry) return [];
    if (geometry.type === "Polygon") return geometry.coordinates;
    if (geometry.type === "MultiPolygon") return geometry.coordinates.flat();
    return [];
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

  // opts: {zone: GeoJSON Feature|null, track: [{lat, lon}], location: {lat, lon, accuracy_m}|null,
  //        labels: {zone, track, location, none, north, m, km}}
  function draw(opts) {
    const svg = el("svg", { viewBox: `0 0 ${W} ${H}`, class: "map", role: "img" });
    const pts = (opts.track || []).filter((p) => isFinite(p.lat) && isFinite(p.lon));
    const loc = opts.location && isFinite(opts.location.lat) ? opts.location : null;
    const zoneRings = rings(opts.zone && opts.zone.geometry);
    const all = pts.concat(loc ? [loc] : []);
    const anchor = all[0] || (zoneRings[0] && { lon: zoneRings[0][0][0], lat: zoneRings[0][0][1] });
    el("rect", { x: 0, y: 0, width: W, height: H, class: "map-bg" }, svg);
    if (!anchor) {
      el("text", { x: W / 2, y: H / 2, class: "map-none", "text-anchor": "middle" }, svg)
        .textContent = opts.labels.none;
      return svg;
    }
    // local metres around the anchor, y up
    const kx = M_PER_DEG_LAT * Math.cos((anchor.lat * Math.PI) / 180);
    const proj = (lon, lat) => [(lon - anchor.lon) * kx, (lat - anchor.lat) * M_PER_DEG_LAT];

    const focus = box();
    for (const p of pts) grow(focus, ...proj(p.lon, p.lat));
    if (loc) grow(focus, ...proj(loc.lon, loc.lat), Math.min(loc.accuracy_m || 0, 2000));
    const zoneBox = box();
    for (const ring of zoneRings) for (const [lon, lat] of ring) grow(zoneBox, ...proj(lon, lat));
    const view = box();
    if (!empty(focus)) { grow(view, focus.x0, focus.y0); grow(view, focus.x1, focus.y1); }
    if (!empty(zoneBox) && (empty(focus) || span(zoneBox) <= ZONE_FOCUS_RATIO * Math.max(span(focus), MIN_SPAN_M))) {
      grow(view, zoneBox.x0, zoneBox.y0); grow(view, zoneBox.x1, zoneBox.y1);
    }
    const cx = (view.x0 + view.x1) / 2, cy = (view.y0 + view.y1) / 2;
    const spanX = Math.max(view.x1 - view.x0, MIN_SPAN_M), spanY = Math.max(view.y1 - view.y0, MIN_SPAN_M);
    const scale = Math.min((W - 2 * PAD) / spanX, (H - 2 * PAD) / spanY); // px per metre
    const px = (lon, lat) => {
      const [x, y] = proj(lon, lat);
      return [W / 2 + (x - cx) * scale, H / 2 - (y - cy) * scale];
    };
    const fmt = (n) => n.toFixed(1);

    if (zoneRings.length) {
      const d = zoneRings.map((ring) => "M" + ring.map(([lon, lat]) => px(lon, lat).map(fmt).join(",")).join("L") + "Z").join("");
      const kind = (opts.zone.properties && opts.zone.properties.kind) || "inclusion";
      el("path", { d, class: `map-zone ${kind}`, "fill-rule": "evenodd" }, svg);
    }
    if (pts.length > 1) {
      el("polyline", { points: pts.map((p) => px(p.lon, p.lat).map(fmt).join(",")).join(" "), class: "map-track" }, svg);
    }
    pts.forEach((p, i) => {
      const [x, y] = px(p.lon, p.lat);
      el("circle", { cx: fmt(x), cy: fmt(y), r: i === pts.length - 1 ? 4.5 : 2.5,
        class: i === pts.length - 1 ? "map-fix last" : "map-fix" }, svg);
    });
    if (loc) {
      const [x, y] = px(loc.lon, loc.lat);
      const r = Math.max((loc.accuracy_m || 0) * scale, 9);
      el("circle", { cx: fmt(x), cy: fmt(y), r: fmt(r), class: "map-accuracy" }, svg);
      el("circle", { cx: fmt(x), cy: fmt(y), r: 7, class: "map-location" }, svg);
    }

    // scale bar, bottom left
    const barM = niceLength((W / 4) / scale);
    const barPx = barM * scale;
    const g = el("g", { class: "map-scale", transform: `translate(${PAD - 8},${H - 14})` }, svg);
    el("path", { d: `M0,-6V0H${fmt(barPx)}V-6` }, g);
    el("text", { x: fmt(barPx + 6), y: 0 }, g).textContent =
      barM >= 1000 ? `${barM / 1000} ${opts.labels.km}` : `${barM} ${opts.labels.m}`;
    // north arrow, top right: the map is drawn north up
    const n = el("g", { class: "map-north", transform: `translate(${W - 22},16)` }, svg);
    el("path", { d: "M0,0L6,16L0,12L-6,16Z" }, n);
    el("text", { x: 0, y: 30, "text-anchor": "middle" }, n).textContent = opts.labels.north;
    return svg;
  }

  return { draw };
})();
