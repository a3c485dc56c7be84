// 对象名册: the caller's persons and how each is doing now (GET /v1/roster), a tab beside the
// live list. A person's name opens their panel. Like app.js, data goes in through textContent.
"use strict";

window.LookoutRoster = (function () {
  const I = window.LookoutI18n;
  const WORDS = {
    zh: { tab: "对象名册", title: "对象名册", mine: "只看我负责的", count: (n) => `共 ${n} 人`,
      silent: "失联", device_off: "关机", location_disabled: "定位关闭", on_leave: "请假外出", ok: "正常",
      last_seen: "最近联系", never: "从未", unknown: "未知", open_alerts: "待处理告警",
      officer: "负责人", until: (t) => `至 ${t}`, feed_down: "数据接入中断：失联判断暂不可靠",
      kafka: "本服务不保存实时状态（Kafka 模式）：最近联系未知，失联、关机仅依据未处理告警",
      loading: "加载中…", failed: "加载失败，请重试", refresh: "刷新", empty: "暂无社区矫正对象", mine_badge: "我负责" },
    en: { tab: "Roster", title: "Roster", mine: "Only mine", count: (n) => `${n} person${n === 1 ? "" : "s"}`,
      silent: "signal lost", device_off: "device off", location_disabled: "location off", on_leave: "on leave", ok: "normal",
      last_seen: "Last seen", never: "never", unknown: "unknown", open_alerts: "Open alerts",
      officer: "Officer", until: (t) => `until ${t}`, feed_down: "The feed is down: signal lost means little now",
      kafka: "This service keeps no live state (Kafka mode): last seen is unknown; signal lost and device off come from open alerts only",
      loading: "Loading…", failed: "Could not load, please retry", refresh: "Refresh", empty: "No persons", mine_badge: "mine" },
  };
  function t(key, arg) { const v = WORDS[I.lang === "en" ? "en" : "zh"][key]; return typeof v === "function" ? v(arg) : v; }
  const $ = (id) => document.getElementById(id);

  const S = { open: false, data: null, failed: false, mineOnly: false, timer: null };
  let pane = null;

  function app() { return window.LookoutApp; }

  function ensurePane() {
    if (pane) return pane;
    pane = document.createElement("div");
    pane.className = "roster-pane";
    pane.id = "roster-pane";
    pane.hidden = true;
    const split = document.querySelector("#feed-view .split");
    split.insertBefore(pane, split.firstChild);
    $("view-roster").setAttribute("aria-controls", pane.id);  // only once the pane exists
    return pane;
  }

  function setOpen(on) {
    S.open = on;
    document.body.classList.toggle("roster-view", on);
    $("view-roster").setAttribute("aria-pressed", String(on));
    // the alert views' own buttons say which is showing; the roster covers both
    if (on) for (const id of ["view-live", "view-drill"]) $(id).setAttribute("aria-pressed", "false");
    ensurePane().hidden = !on;
    clearInterval(S.timer);
    if (on) { load(); S.timer = setInterval(load, 60000); } // last seen ages: keep it fresh
  }

  async function load() {
    try {
      S.data = await app().api("/v1/roster");
      S.failed = false;
    } catch (e) {
      S.failed = true;
      if (e && e.status === 401) return setOpen(false);
    }
    render();
  }

  function relative(iso) { return iso ? I.relative(iso, Date.now()) : null; }

  function render() {
    if (!S.open) return;
    const { h, add, badge } = app();
    const p = ensurePane();
    const head = add(h("div", "roster-head"), h("h2", null, t("title")));
    const mine = h("input"); mine.type = "checkbox"; mine.id = "roster-mine"; mine.checked = S.mineOnly;
    mine.addEventListener("change", () => { S.mineOnly = mine.checked; render(); });
    const refresh = h("button", "ghost-small", t("refresh")); refresh.type = "button"; refresh.id = "roster-refresh";
    refresh.addEventListener("click", load);
    const persons = S.data ? S.data.persons.filter((x) => !S.mineOnly || x.mine) : [];
    add(head, add(h("label", "roster-mine"), mine, h("span", null, t("mine"))), refresh,
      h("span", "count", S.data ? t("count", persons.length) : ""));
    const notes = [];
    if (S.failed) notes.push(h("p", "error", t("failed")));
    else if (!S.data) notes.push(h("p", "muted", t("loading")));
    else {
      if (!S.data.live_state) notes.push(h("p", "roster-note", t("kafka")));
      if (S.data.feed_down) notes.push(h("p", "roster-note warn", t("feed_down")));
    }
    const list = h("ol", "roster-list");
    list.id = "roster-list";
    for (const x of persons) add(list, row(x));
    const empty = S.data && !persons.length ? h("p", "empty", t("empty")) : null;
    p.replaceChildren(head, ...notes, list, ...(empty ? [empty] : []));

    function row(x) {
      const li = h("li", "roster-row");
      li.dataset.person = x.person_id;
      const chips = h("span", "roster-chips");
      const chip = (cls, text) => add(chips, h("span", `chip ${cls}`, text));
      if (x.silent) chip("bad", t("silent"));
      if (x.device_off) chip("bad", t("device_off"));
      if (x.location_disabled) chip("bad", t("location_disabled"));
      if (x.on_leave) chip("leave", `${t("on_leave")} ${x.leave_until ? t("until", I.clock(x.leave_until)) : ""}`.trim());
      if (!chips.childElementCount) chip("ok", t("ok"));
      const name = h("button", "person-link roster-name", x.name);
      name.type = "button";
      name.addEventListener("click", () => app().openPerson(x.person_id));
      const who = add(h("div", "roster-who"), name, x.mine ? badge("mine", t("mine_badge")) : null,
        h("span", "muted", x.officer_name ? `${t("officer")}${I.lang === "zh" ? "：" : ": "}${x.officer_name}` : ""));
      const seen = S.data.live_state ? (relative(x.last_seen) || t("never")) : t("unknown");
      const facts = add(h("div", "roster-facts"),
        add(h("span", "roster-seen"), h("span", "muted", `${t("last_seen")} `), h("span", null, seen)),
        add(h("span", `roster-alerts${x.open_alerts ? " has" : ""}`), h("span", "muted", `${t("open_alerts")} `),
          h("strong", null, String(x.open_alerts))));
      return add(li, add(h("div", "roster-main"), who, chips), facts);
    }
  }

  function init() {
    const tab = $("view-roster");
    if (!tab || !app()) return;
    tab.addEventListener("click", () => setOpen(true));
    for (const id of ["view-live", "view-drill"]) $(id).addEventListener("click", () => setOpen(false));
    $("lang-toggle").addEventListener("click", () => { tab.textContent = t("tab"); render(); });
    $("logout").addEventListener("click", () => { setOpen(false); S.data = null; });
    tab.textContent = t("tab");
  }

  init();
  return { open: () => setOpen(true), close: () => setOpen(false) };
})();
