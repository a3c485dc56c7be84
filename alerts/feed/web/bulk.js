// Many alerts at once: tick rows (or every row on the page), then 签收 or 处置 them with one
// disposition and note (POST /v1/alerts/bulk: each alert still its own action and audit
// line). And the keyboard: j/k move, Enter opens, a acknowledges, r goes to 处置, x ticks,
// Esc closes, ? lists the keys.
"use strict";

window.Lookout.bulk = (function () {
  const L = window.Lookout;
  const { I, $, S, show } = L;

  function checked() { return L.list.R.checked; }

  function toggle(id, on) {
    if (on) checked().add(id); else checked().delete(id);
    render();
  }

  function selectPage(on) {
    for (const [id, li] of L.list.R.rows) {
      if (on) checked().add(id); else checked().delete(id);
      li.querySelector("input.pick").checked = on;
    }
    render();
  }

  function render() {
    const n = checked().size, rows = L.list.R.rows.size;
    const all = $("select-page");
    all.checked = n > 0 && n >= rows;
    all.indeterminate = n > 0 && n < rows;
    all.setAttribute("aria-label", I.t("select_page"));
    show($("bulk-bar"), n > 0);
    $("bulk-count").textContent = I.t("selected", n);
    const sel = $("bulk-disposition");
    const keep = sel.value;
    sel.replaceChildren(new Option(I.t("choose"), ""));
    for (const code of Object.keys((I.words && I.words.dispositions) || {})) sel.add(new Option(I.w("dispositions", code), code));
    sel.value = keep;
  }

  async function run(action) {
    const ids = [...checked()];
    if (!ids.length) return;
    const out = $("bulk-result");
    const body = { alert_ids: ids, action };
    if (action === "resolve") {
      body.disposition = $("bulk-disposition").value;
      body.note = $("bulk-note").value;
      if (!body.disposition) { out.textContent = I.t("choose_disposition"); $("bulk-disposition").focus(); return; }
    }
    for (const b of document.querySelectorAll("#bulk-bar button")) b.disabled = true;
    out.textContent = I.t("working");
    try {
      const res = await L.api("/v1/alerts/bulk", { method: "POST", body });
      for (const o of res.results) if (o.alert) L.list.push(o.alert);
      const failed = res.results.filter((o) => !o.ok);
      const reasons = [...new Set(failed.map((o) => (o.problem && o.problem[I.lang]) || String(o.status)))];
      out.textContent = I.t("bulk_done", [res.ok, res.failed]) + (reasons.length ? `：${reasons.join("；")}` : "");
      checked().clear();
      for (const o of failed) checked().add(o.alert_id); // what failed stays ticked, to retry
      for (const [id, li] of L.list.R.rows) li.querySelector("input.pick").checked = checked().has(id);
      if (action === "resolve" && !failed.length) $("bulk-note").value = "";
      render();
      show($("bulk-bar"), true);
    } catch (e) {
      out.textContent = L.problemText(e);
    } finally {
      for (const b of document.querySelectorAll("#bulk-bar button")) b.disabled = false;
    }
  }

  // -- keyboard ------------------------------------------------------------------------------
  function links() { return [...document.querySelectorAll("#alert-list a.open")]; }
  function currentLi() {
    const el = document.activeElement;
    return (el && el.closest && el.closest("li.alert")) || (S.selected && L.list.R.rows.get(S.selected)) || null;
  }

  function move(step) {
    const all = links();
    if (!all.length) return;
    const li = currentLi();
    const i = li ? all.indexOf(li.querySelector("a.open")) : -1;
    const next = all[Math.max(0, Math.min(all.length - 1, i < 0 ? 0 : i + step))];
    next.focus();
    next.scrollIntoView({ block: "nearest" });
  }

  // `a` on a row of the list: 签收 it without opening it (a refusal shows above the list)
  async function acknowledgeRow(id) {
    const a = L.list.get(id);
    if (!a || a.handling !== "new") return;
    try {
      const res = await L.api(`/v1/alerts/${encodeURIComponent(id)}/acknowledge`, { method: "POST" });
      L.list.push(res.alert);
    } catch (err) {
      const n = $("list-notice");
      n.textContent = L.problemText(err);
      show(n, true);
    }
  }

  function onKey(e) {
    if (e.ctrlKey || e.metaKey || e.altKey || !S.me) return;
    const help = $("help");
    if (e.key === "Escape") {
      if (help.open) return; // the dialog closes itself
      if (S.selected || S.personId) { e.preventDefault(); L.app.back(); }
      return;
    }
    if (L.typing(e.target) || help.open) return;
    const li = currentLi();
    switch (e.key) {
      case "j": move(1); break;
      case "k": move(-1); break;
      case "x": if (li) { const b = li.querySelector("input.pick"); b.checked = !b.checked; toggle(li.dataset.id, b.checked); } break;
      case "a":
        if (S.selected && L.detail.shown()) L.detail.acknowledgeOpen();
        else if (li) acknowledgeRow(li.dataset.id);
        break;
      case "r":
        if (S.selected && L.detail.shown()) L.detail.resolveOpen();
        else if (li) L.app.go(li.dataset.id);
        break;
      case "?": help.showModal(); break;
      default: return;
    }
    e.preventDefault();
  }

  function boot() {
    $("select-page").addEventListener("change", (e) => selectPage(e.target.checked));
    $("bulk-ack").addEventListener("click", () => run("acknowledge"));
    $("bulk-resolve").addEventListener("click", () => run("resolve"));
    $("bulk-clear").addEventListener("click", () => { selectPage(false); checked().clear(); $("bulk-result").textContent = ""; render(); });
    $("help-open").addEventListener("click", () => $("help").showModal());
    $("help-close").addEventListener("click", () => $("help").close());
    document.addEventListener("keydown", onKey);
  }

  return { toggle, render, boot };
})();
