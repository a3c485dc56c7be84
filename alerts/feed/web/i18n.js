// The page's own phrases in 中文 and English. Alert types, dispositions, handling and roles
// come from GET /v1/words (SPEC §7, alerts/kinds.py), so they are spelled in one place only.
"use strict";

window.LookoutI18n = (function () {
  const UI = {
    zh: {
      app_name: "瞭望", app_sub: "社区矫正告警",
      login_title: "登录", officer_id: "工号", password: "密码", login: "登录", logout: "退出",
      view_live: "实时告警", view_drill: "演练", drill_banner: "演练视图：仅显示演练告警，不影响真实告警",
      filter_office: "司法所", filter_type: "类型", all_offices: "全部司法所", all_types: "全部类型",
      empty: "暂无告警", count: (n) => `共 ${n} 条`,
      conn_live: "实时连接", conn_lost: "连接中断，正在重连…",
      opened: "开始", last_event: "最近事件", cleared: "解除时间", condition: "状态",
      handling: "处理", officer: "负责人", zone: "区域", accuracy: "定位精度", events: "事件数",
      person_id: "编号", office: "司法所", route: "流转", history: "处理记录", reopened: "重新打开",
      acknowledge: "签收", resolve: "处置", disposition: "处置结果", note: "处置说明",
      note_required: "防拆报警须填写处置说明", choose: "请选择…",
      action_pending: "已提交，等待处理进程确认，结果将自动显示",
      resolved_by: "处置人", map_zone: "区域", map_track: "近期轨迹", map_location: "告警位置",
      map_none: "暂无定位数据", north: "北", metres: "米", km: "公里",
      just_now: "刚刚", min_ago: (n) => `${n} 分钟前`, h_ago: (n) => `${n} 小时前`, d_ago: (n) => `${n} 天前`,
      in_future: "刚刚",
      role_reason: { on_shift: "在岗", officer_off_shift: "下班转值班", no_duty_officer: "无值班人员",
        not_acknowledged: "超时未签收", feed_down: "数据中断" },
      network_error: "网络错误，请重试", session_over: "登录已过期，请重新登录",
      lang_button: "English", version: "版本",
      summary_open: "值班汇总", person_panel: "社区矫正对象", released: "已解除矫正",
      heard_from: "通讯正常", last_seen: "最近联系", last_fix: "最近定位", never: "从未",
      silence_timeout: "失联判定", minutes: "分钟", open_alerts: "待处理告警", none: "无",
      permits: "请假外出", no_permits: "无进行中或待开始的请假", permit_active: "请假中",
      permit_upcoming: "待开始", timeline: "时间线", tl_fixes: (n) => `定位 ${n} 次`,
      tl_opened: "告警开始", tl_cleared: "告警解除", tl_reopened: "重新出现", tl_acknowledged: "已签收",
      tl_resolved: "已处置", tl_escalated: "已升级上报", tl_permit_start: "请假开始",
      tl_permit_end: "请假结束", open_person: "查看对象",
      open_person_short: "对象", count_of: ([n, total]) => `显示 ${n} 条，共 ${total} 条`,
      tab_open: "待处理", tab_new: "未签收", tab_acknowledged: "已签收", tab_resolved: "已处置",
      tabs_label: "处理状态", view_label: "视图", filters: "筛选", filter_mine: "只看我的",
      filter_severity: "级别", all_severities: "全部级别", filter_person: "对象",
      person_placeholder: "姓名或编号", filter_from: "开始日期", filter_to: "结束日期",
      list_heading: "告警", more: "显示更多", unread: "未读", late: "补传数据",
      late_note: "由设备补传的缓存数据产生，事件发生时间早于接收时间",
      select_alert: (what) => `选择：${what}`, select_page: "全选本页", select_page_short: "全选",
      selected: (n) => `已选 ${n} 条`, bulk_label: "批量操作", bulk_ack: "批量签收",
      bulk_resolve: "批量处置", bulk_clear: "取消选择", working: "正在提交…",
      choose_disposition: "请先选择处置结果",
      bulk_done: ([ok, failed]) => `已完成 ${ok} 条` + (failed ? `，${failed} 条未成功` : ""),
      sound_on: "声音开", sound_off: "已静音", sound_label: "紧急告警提示音",
      notify_ask: "开启通知", notify_short: "通知", summary_short: "汇总", new_critical: "新紧急告警", new_criticals: (n) => `${n} 条新紧急告警`,
      critical_banner: (n) => `${n} 条紧急告警未签收`, critical_show: "查看",
      alert_gone: "该告警不存在或无权查看", map_label: "告警地图：区域、近期轨迹与告警位置", close: "关闭", back: "返回", lang_label: "切换语言",
      help_title: "快捷键", key_jk: "下一条 / 上一条", key_enter: "打开告警", key_a: "签收",
      key_r: "处置", key_x: "选中 / 取消选中", key_esc: "关闭详情", key_help: "显示本帮助",
    },
    en: {
      app_name: "Lookout", app_sub: "community correction alerts",
      login_title: "Log in", officer_id: "Officer ID", password: "Password", login: "Log in", logout: "Log out",
      view_live: "Live alerts", view_drill: "Drill", drill_banner: "Drill view: drill alerts only, real alerts are not affected",
      filter_office: "Office", filter_type: "Type", all_offices: "All offices", all_types: "All types",
      empty: "No alerts", count: (n) => `${n} alert${n === 1 ? "" : "s"}`,
      conn_live: "Live", conn_lost: "Connection lost, reconnecting…",
      opened: "Opened", last_event: "Last event", cleared: "Cleared", condition: "Condition",
      handling: "Handling", officer: "Officer", zone: "Zone", accuracy: "Accuracy", events: "Events",
      person_id: "ID", office: "Office", route: "Route", history: "History", reopened: "reopened",
      acknowledge: "acknowledge", resolve: "resolve", disposition: "Disposition", note: "Note",
      note_required: "A tamper alert needs a note", choose: "Choose…",
      action_pending: "sent; waiting for the workers to confirm, the result will appear here",
      resolved_by: "Resolved by", map_zone: "Zone", map_track: "Recent track", map_location: "Alert location",
      map_none: "No location data", north: "N", metres: "m", km: "km",
      just_now: "just now", min_ago: (n) => `${n} min ago`, h_ago: (n) => `${n} h ago`, d_ago: (n) => `${n} d ago`,
      in_future: "just now",
      role_reason: { on_shift: "on shift", officer_off_shift: "officer off shift", no_duty_officer: "no duty officer",
        not_acknowledged: "not acknowledged", feed_down: "feed down" },
      network_error: "Network error, please retry", session_over: "Session over, please log in again",
      lang_button: "中文", version: "version",
      summary_open: "Shift summary", person_panel: "Person", released: "released",
      heard_from: "heard from", last_seen: "Last seen", last_fix: "Last fix", never: "never",
      silence_timeout: "Silent after", minutes: "min", open_alerts: "Open alerts", none: "none",
      permits: "Leave permits", no_permits: "No leave now or to come", permit_active: "on leave",
      permit_upcoming: "upcoming", timeline: "Timeline", tl_fixes: (n) => `${n} fix${n === 1 ? "" : "es"}`,
      tl_opened: "opened", tl_cleared: "cleared", tl_reopened: "reopened", tl_acknowledged: "acknowledged",
      tl_resolved: "resolved", tl_escalated: "escalated", tl_permit_start: "leave starts",
      tl_permit_end: "leave ends", open_person: "open person",
      open_person_short: "Person", count_of: ([n, total]) => `showing ${n} of ${total}`,
      tab_open: "To do", tab_new: "New", tab_acknowledged: "Acknowledged", tab_resolved: "Resolved",
      tabs_label: "Handling state", view_label: "View", filters: "Filters", filter_mine: "Mine only",
      filter_severity: "Severity", all_severities: "All severities", filter_person: "Person",
      person_placeholder: "name or ID", filter_from: "From", filter_to: "To",
      list_heading: "Alerts", more: "Show more", unread: "unread", late: "from buffered data",
      late_note: "raised from data the device buffered and sent late: it happened before it arrived",
      select_alert: (what) => `select: ${what}`, select_page: "Select all on this page", select_page_short: "All",
      selected: (n) => `${n} selected`, bulk_label: "Bulk actions", bulk_ack: "Acknowledge all",
      bulk_resolve: "Resolve all", bulk_clear: "Clear selection", working: "Sending…",
      choose_disposition: "Choose a disposition first",
      bulk_done: ([ok, failed]) => `${ok} done` + (failed ? `, ${failed} failed` : ""),
      sound_on: "Sound on", sound_off: "Muted", sound_label: "Sound for critical alerts",
      notify_ask: "Notifications", notify_short: "Notify", summary_short: "Summary", new_critical: "New critical alert", new_criticals: (n) => `${n} new critical alerts`,
      critical_banner: (n) => `${n} critical alert${n === 1 ? "" : "s"} not acknowledged`, critical_show: "Show",
      alert_gone: "No such alert, or not yours", map_label: "Alert map: zone, recent track and alert location", close: "Close", back: "Back", lang_label: "Language",
      help_title: "Keyboard shortcuts", key_jk: "next / previous", key_enter: "open the alert", key_a: "acknowledge",
      key_r: "resolve", key_x: "select / unselect", key_esc: "close the detail", key_help: "show this help",
    },
  };

  let lang = localStorage.getItem("lookout.lang") === "en" ? "en" : "zh";
  let words = null; // GET /v1/words

  function t(key, arg) {
    const v = UI[lang][key];
    return typeof v === "function" ? v(arg) : (v === undefined ? key : v);
  }

  // a coded value (alert type, disposition, ...) in the current language
  function w(table, code) {
    const entry = words && words[table] && words[table][code];
    return entry ? entry[lang] : code;
  }

  function relative(isoText, nowMs) {
    if (!isoText) return "";
    const s = Math.round((nowMs - Date.parse(isoText)) / 1000);
    if (s < 45) return s < -60 ? t("in_future") : t("just_now");
    const min = Math.round(s / 60);
    if (min < 60) return t("min_ago", min);
    const h = Math.floor(min / 60);
    if (h < 48) return t("h_ago", h);
    return t("d_ago", Math.floor(h / 24));
  }

  // "11-27 10:03" in the bundle's own time zone: the engine wrote the offset, so the text
  // already reads as the office's wall clock.
  function clock(isoText) {
    if (!isoText) return "";
    return isoText.slice(5, 16).replace("T", " ");
  }

  return {
    t, w, relative, clock,
    get lang() { return lang; },
    setLang(next) { lang = next; localStorage.setItem("lookout.lang", next); },
    setWords(x) { words = x; },
    get words() { return words; },
  };
})();
