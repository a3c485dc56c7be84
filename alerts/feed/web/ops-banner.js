// A banner for admins and shift leads when the service needs an operator: the bundle on disk
// was refused (it runs on the last good one) or the store cannot write. Fed by /v1/ops, which
// answers those two roles only and names the file, line and field; `lookout admin reload`
// gives the full reason.
"use strict";

(function () {
  const TOKEN_KEY = "lookout.token";
  const EVERY_MS = 5000;

  function text(h) {
    const zh = window.LookoutI18n ? window.LookoutI18n.lang !== "en" : true;
    const parts = [];
    const b = h.bundle_invalid;
    if (b) {
      const where = [b.file, b.where, b.field].filter(Boolean).join(" · ");
      parts.push(zh ? `部署包无效（${where}），正按最后一份有效部署包继续监管；修正后执行 lookout admin reload`
                    : `Bundle refused (${where}): supervising on the last good bundle; fix it, then lookout admin reload`);
    }
    const f = h.store_fault;
    if (f) {
      parts.push(zh ? `存储无法写入（${f.error}）：数据接入暂停，网关将重发；引擎自动重试，请释放磁盘空间`
                    : `The store cannot write (${f.error}): ingest paused, gateways will resend; the engine retries, free disk space`);
    }
    return parts.join(" / ");
  }

  function banner() {
    let node = document.getElementById("ops-banner");
    if (!node) {
      node = document.createElement("div");
      node.id = "ops-banner";
      node.className = "ops-banner";
      node.setAttribute("role", "alert");
      node.hidden = true;
      const main = document.querySelector("main") || document.body;
      main.insertBefore(node, main.firstChild);
    }
    return node;
  }

  async function json(path, token) {
    const headers = { Accept: "application/json" };
    if (token) headers.Authorization = `Bearer ${token}`;
    const res = await fetch(path, { headers });
    if (!res.ok) throw new Error(String(res.status));
    return res.json();
  }

  async function check() {
    const token = sessionStorage.getItem(TOKEN_KEY);
    const node = banner();
    try {
      if (!token) { node.hidden = true; return; }
      const says = text(await json("/v1/ops", token));
      node.textContent = says;
      node.hidden = !says;
    } catch (e) {
      // a session over, or the service restarting: the next check asks again
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    check();
    setInterval(check, EVERY_MS);
  });
})();
