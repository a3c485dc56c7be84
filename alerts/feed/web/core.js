// What every part of the page shares: its state, DOM helpers and the API call. The parts
// (attention.js, list.js, detail.js, bulk.js, app.js) hang themselves on window.Lookout.
// Every piece of data goes into the page through textContent, never as markup: names and
// notes are typed by people.
"use strict";

window.Lookout = (function () {
  const I = window.LookoutI18n;
  const $ = (id) => document.getElementById(id);
  const TOKEN_KEY = "lookout.token"; // sessionStorage: closing the tab ends the login here

  const S = {
    token: sessionStorage.getItem(TOKEN_KEY),
    me: null,
    view: "live",
    // the officer's filters; `tab` is the handling state: open (new + acknowledged), new,
    // acknowledged, resolved
    f: { tab: "open", mine: false, office: "", type: "", severity: "", person: "", from: "", to: "" },
    selected: null, detail: null,
    personId: null, person: null, // the person panel, when it is the one open
    es: null, retryTimer: null,
  };

  function h(tag, cls, text) {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }
  function add(parent, ...kids) { for (const k of kids) if (k) parent.appendChild(k); return parent; }
  function show(node, on) { node.hidden = !on; }
  function badge(cls, text) { return h("span", `badge ${cls}`, text); }
  function paren(text) { return I.lang === "zh" ? `（${text}）` : ` (${text})`; }
  function officeName(a) { return a.office_name || a.office_id; }

  function problemText(err) {
    const p = err && err.problem;
    if (p && p[I.lang]) return p[I.lang];
    if (p && Array.isArray(p)) return p.map((x) => x.msg).join("; ");
    return I.t("network_error");
  }

  const hooks = { sessionOver: () => {} };

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
      if (res.status === 401 && S.token && path !== "/v1/login") hooks.sessionOver();
      throw { status: res.status, problem: data && data.detail };
    }
    return data;
  }

  // keys typed into a field are the officer's text, not shortcuts
  function typing(target) {
    return !!target && (/^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName) || target.isContentEditable)
      && !(target.tagName === "INPUT" && target.type === "checkbox");
  }

  return { I, $, S, TOKEN_KEY, h, add, show, badge, paren, officeName, problemText, api, hooks, typing };
})();
