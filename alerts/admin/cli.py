"""`lookout admin ...`: change reference data of a running service over its HTTP API, logged
in as an admin (or a supervisor, for permits). `lookout purge`: retention on the store file.

    lookout admin --url http://127.0.0.1:8080 --user U --password P \\
        permits add --person WC0015 --start 2026-11-20T08:00:00+08:00 \\
                    --end 2026-11-20T20:00:00+08:00 --destination 杭州
    lookout purge --db lookout.db --bundle DIR

The password may come from LOOKOUT_PASSWORD (kept out of shell history) or is asked for on a
terminal. Exit 0 done, 2 refused as bad input (the server's message names file:line:field),
1 anything else (login, rights, network).
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote, urlencode

from alerts.timefmt import wall_ms

EXIT_BAD_INPUT, EXIT_OTHER = 2, 1


class Refused(Exception):
    def __init__(self, status: int, detail):
        super().__init__(status)
        self.status, self.detail = status, detail

    def text(self) -> str:
        d = self.detail
        if isinstance(d, dict) and "zh" in d:
            return f"{d['zh']} / {d['en']}"
        return json.dumps(d, ensure_ascii=False)


class Client:
    """JSON over HTTP with a bearer token; the standard library only, so `lookout admin`
    needs nothing the service does not."""

    def __init__(self, url: str, timeout: float = 150.0):
        self.url, self.timeout, self.token = url.rstrip("/"), timeout, None

    def call(self, method: str, path: str, body=None, query: dict | None = None):
        url = self.url + path + ("?" + urlencode(query) if query else "")
        data = None if body is None else json.dumps(body, ensure_ascii=False).encode("utf-8")
        req = urllib.request.Request(url, data=data, method=method)
        req.add_header("Accept", "application/json")
        if data is not None:
            req.add_header("Content-Type", "application/json")
        if self.token:
            req.add_header("Authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as res:
                raw = res.read()
        except urllib.error.HTTPError as e:
            raw = e.read()
            try:
                detail = json.loads(raw).get("detail")
            except (ValueError, AttributeError):
                detail = raw.decode("utf-8", "replace")
            raise Refused(e.code, detail) from None
        return json.loads(raw) if raw else None

    def login(self, user: str, password: str) -> None:
        self.token = self.call("POST", "/v1/login", {"officer_id": user, "password": password})["token"]

    def logout(self) -> None:
        if self.token:
            try:
                self.call("POST", "/v1/logout")
            except (Refused, OSError):
                pass  # it expires anyway


def _csv(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


def _days(value: str) -> list[int]:
    """"1-5", "6,7", "1-3,5" -> ISO weekdays (their range is the loader's to check)."""
    out: list[int] = []
    try:
        for part in _csv(value):
            lo, _, hi = part.partition("-")
            out += list(range(int(lo), int(hi or lo) + 1))
    except ValueError:
        raise argparse.ArgumentTypeError(f"days: like 1-5 or 6,7, got {value!r}") from None
    return out


def _window(value: str) -> dict:
    """"1-5 08:30-17:30" -> {"days": [1..5], "start": "08:30", "end": "17:30"}."""
    days, _, hours = value.strip().partition(" ")
    start, sep, end = hours.strip().partition("-")
    if not sep:
        raise argparse.ArgumentTypeError(f'window: like "1-5 08:30-17:30", got {value!r}')
    return {"days": _days(days), "start": start.strip(), "end": end.strip()}


def _person_flags(p: argparse.ArgumentParser, required: bool) -> None:
    p.add_argument("--id", dest="person_id", required=True)
    p.add_argument("--name", help="default: the id")
    p.add_argument("--office", dest="office_id", required=required)
    p.add_argument("--officer", dest="officer_id", required=required)
    p.add_argument("--zones", type=_csv, help="zone ids, comma-separated")
    p.add_argument("--groups", type=_csv, help="groups, comma-separated")
    p.add_argument("--silence-timeout-s", type=float)
    p.add_argument("--risk", help="low | medium | high")
    p.add_argument("--phone", help="联系电话 (personal data)")
    p.add_argument("--address", help="住址 (personal data)")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="lookout admin",
                                description="Change reference data of a running service / 在线维护基础数据")
    p.add_argument("--url", default=os.environ.get("LOOKOUT_URL", "http://127.0.0.1:8080"))
    p.add_argument("--user", default=os.environ.get("LOOKOUT_USER"), help="officer id / 工号")
    p.add_argument("--password", help="default: LOOKOUT_PASSWORD, or asked for")
    area = p.add_subparsers(dest="area", required=True)

    permits = area.add_parser("permits", help="leave permits / 请假外出").add_subparsers(
        dest="op", required=True)
    a = permits.add_parser("add", help="approve leave / 批准请假")
    a.add_argument("--person", required=True)
    a.add_argument("--start", required=True, help="RFC 3339, e.g. 2026-11-20T08:00:00+08:00")
    a.add_argument("--end", required=True)
    a.add_argument("--destination", default="", help="去向")
    a.add_argument("--suspend-zones", type=_csv, help="default: every inclusion zone")
    a.add_argument("--id", dest="permit_id", help="default: QJ-<date>-<n>")
    r = permits.add_parser("revoke", help="revoke / 撤销")
    r.add_argument("--id", dest="permit_id", required=True)
    r.add_argument("--at", help="default: now")
    ls = permits.add_parser("list")
    ls.add_argument("--person")
    ls.add_argument("--current", action="store_true", help="only those not yet ended")

    persons = area.add_parser("persons", help="persons / 社区矫正对象").add_subparsers(
        dest="op", required=True)
    _person_flags(persons.add_parser("add", help="enrol / 入矫"), required=True)
    u = persons.add_parser("update", help="change fields")
    _person_flags(u, required=False)
    u.add_argument("--clear", action="append", default=[], help="remove a field (its default applies)")
    rel = persons.add_parser("release", help="release / 解除矫正")
    rel.add_argument("--id", dest="person_id", required=True)
    rel.add_argument("--reason", default="")
    persons.add_parser("list")

    zones = area.add_parser("zones", help="zones / 电子围栏").add_subparsers(dest="op", required=True)
    za = zones.add_parser("add", help="from a GeoJSON Feature (or FeatureCollection) file")
    za.add_argument("--file", required=True)
    zu = zones.add_parser("update", help="replace a zone by the Feature in the file")
    zu.add_argument("--file", required=True)
    zu.add_argument("--id", dest="zone_id", help="default: the feature's zone_id")
    zr = zones.add_parser("remove")
    zr.add_argument("--id", dest="zone_id", required=True)
    zones.add_parser("list")

    shifts = area.add_parser("shifts", help="shifts / 排班").add_subparsers(dest="op", required=True)
    s = shifts.add_parser("set", help="an officer's shifts become these windows")
    s.add_argument("--officer", required=True)
    s.add_argument("--days", type=_days, help="1-5, 6,7 ... with --start and --end")
    s.add_argument("--start", help="HH:MM")
    s.add_argument("--end", help="HH:MM; before --start runs past midnight")
    s.add_argument("--window", type=_window, action="append", default=[],
                   help='more windows: "1-5 08:30-17:30"; repeatable')
    s.add_argument("--none", action="store_true", help="no shifts: always on duty")
    shifts.add_parser("list")

    pw = area.add_parser("password", help="set an officer's password / 设置登录密码")
    pw.add_argument("--officer", required=True)
    pw.add_argument("--new-password", help="default: LOOKOUT_NEW_PASSWORD, or asked for")
    pw.add_argument("--db", help="write it into this store file directly, without logging in "
                                 "(the first admin's password, on the server)")
    au = area.add_parser("audit", help="the audit log / 审计日志")
    au.add_argument("--limit", type=int, default=50)
    area.add_parser("purge", help="purge old tracks now / 立即清理过期轨迹")
    area.add_parser("reload", help="take up bundle files edited by hand / 重新加载部署包")
    return p


def _features(path: str) -> list[dict]:
    data = json.loads(Path(path).read_text(encoding="utf-8-sig"))
    if isinstance(data, dict) and data.get("type") == "FeatureCollection":
        return list(data.get("features") or [])
    return [data]


Request = tuple[str, str, object, dict | None]  # method, path, body, query


def _permits(args) -> list[Request]:
    if args.op == "add":
        body = {"person_id": args.person, "start": args.start, "end": args.end,
                "destination": args.destination}
        if args.suspend_zones is not None:
            body["suspend_zones"] = args.suspend_zones
        if args.permit_id:
            body["permit_id"] = args.permit_id
        return [("POST", "/v1/admin/permits", body, None)]
    if args.op == "revoke":
        return [("POST", f"/v1/admin/permits/{quote(args.permit_id)}/revoke",
                 {"at": args.at} if args.at else {}, None)]
    query = {"current": "true"} if args.current else {}
    if args.person:
        query["person_id"] = args.person
    return [("GET", "/v1/admin/permits", None, query)]


def _persons(args) -> list[Request]:
    if args.op == "list":
        return [("GET", "/v1/admin/persons", None, None)]
    if args.op == "release":
        return [("POST", f"/v1/admin/persons/{quote(args.person_id)}/release",
                 {"reason": args.reason}, None)]
    fields = {"name": args.name, "office_id": args.office_id, "officer_id": args.officer_id,
              "zones": args.zones, "groups": args.groups,
              "silence_timeout_s": args.silence_timeout_s, "risk": args.risk,
              "phone": args.phone, "address": args.address}
    body = {k: v for k, v in fields.items() if v is not None}
    if args.op == "add":
        return [("POST", "/v1/admin/persons", {"person_id": args.person_id, **body}, None)]
    body.update({k: None for k in args.clear})
    return [("PATCH", f"/v1/admin/persons/{quote(args.person_id)}", body, None)]


def _zones(args) -> list[Request]:
    if args.op == "list":
        return [("GET", "/v1/admin/zones", None, None)]
    if args.op == "remove":
        return [("DELETE", f"/v1/admin/zones/{quote(args.zone_id)}", None, None)]
    features = _features(args.file)
    if args.op == "add":
        return [("POST", "/v1/admin/zones", f, None) for f in features]
    f = features[0]
    zone_id = args.zone_id or (f.get("properties") or {}).get("zone_id")
    return [("PUT", f"/v1/admin/zones/{quote(str(zone_id))}", f, None)]


def _shifts(args) -> list[Request]:
    if args.op == "list":
        return [("GET", "/v1/admin/shifts", None, None)]
    windows = list(args.window)
    if args.days is not None or args.start or args.end:
        windows.insert(0, {"days": args.days, "start": args.start, "end": args.end})
    if not windows and not args.none:
        raise argparse.ArgumentTypeError("shifts set: give --days/--start/--end, --window "
                                         "or --none")
    return [("PUT", f"/v1/admin/shifts/{quote(args.officer)}", {"shifts": windows}, None)]


_REQUESTS: dict[str, Callable[[argparse.Namespace], list[Request]]] = {
    "permits": _permits,
    "persons": _persons,
    "zones": _zones,
    "shifts": _shifts,
    "audit": lambda args: [("GET", "/v1/admin/audit", None, {"limit": args.limit})],
    "password": lambda args: [("PUT", f"/v1/admin/officers/{quote(args.officer)}/password",
                               {"password": _new_password(args)}, None)],
    "reload": lambda args: [("POST", "/v1/admin/reload", None, None)],
    "purge": lambda args: [("POST", "/v1/admin/purge", None, None)],
}


def _request(args) -> list[Request]:
    """(method, path, body, query) for the command; a zones file may make several."""
    return _REQUESTS[args.area](args)


def _new_password(args) -> str:
    new = args.new_password or os.environ.get("LOOKOUT_NEW_PASSWORD")
    if new:
        return new
    if not sys.stdin.isatty():
        raise ValueError("--new-password is required (or LOOKOUT_NEW_PASSWORD)")
    new = getpass.getpass(f"{args.officer} 新密码 new password: ")
    if getpass.getpass("再输入一次 again: ") != new:
        raise ValueError("the two passwords differ / 两次输入不一致")
    return new


def _password_offline(args) -> int:
    from alerts.feed.access import set_password

    if not os.path.isfile(args.db):
        print(f"lookout admin: --db: no such file 找不到数据库: {args.db}", file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        set_password(args.db, args.officer, _new_password(args))
    except ValueError as e:
        print(f"lookout admin: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    print(f"password set 密码已设置: {args.officer}")
    return 0


def cli_admin(argv: list[str]) -> int:
    p = parser()
    args = p.parse_args(argv)
    if args.area == "password" and args.db:
        return _password_offline(args)
    try:
        requests = _request(args)
    except (argparse.ArgumentTypeError, OSError, ValueError) as err:
        p.error(str(err))
    if not args.user:
        p.error("--user is required (or LOOKOUT_USER)")
    password = _login_password(p, args)
    client = Client(args.url)
    try:
        client.login(args.user, password)
        for method, path, body, query in requests:
            _show(client.call(method, path, body, query))
    except Refused as e:
        print(f"lookout admin: {e.status} {e.text()}", file=sys.stderr)
        return EXIT_BAD_INPUT if e.status in (400, 404, 409, 422) else EXIT_OTHER
    except OSError as e:
        print(f"lookout admin: cannot reach 无法连接 {args.url}: {e}", file=sys.stderr)
        return EXIT_OTHER
    finally:
        client.logout()
    return 0


def _login_password(p: argparse.ArgumentParser, args) -> str:
    password = args.password or os.environ.get("LOOKOUT_PASSWORD")
    if password:
        return password
    if not sys.stdin.isatty():
        p.error("--password is required (or LOOKOUT_PASSWORD)")
    return getpass.getpass(f"{args.user} 密码 password: ")


def _show(result) -> None:
    """The service's answer as JSON, and its coverage warnings on stderr."""
    if result is None:
        return
    print(json.dumps(result, ensure_ascii=False, indent=2))
    gaps = result.get("coverage_gaps") if isinstance(result, dict) else None
    for gap in gaps or ():
        print(f"lookout admin: warning 警告: {gap['warning']}", file=sys.stderr)


def cli_purge(argv: list[str]) -> int:
    """`lookout purge --db PATH --bundle DIR`: the retention purge, once, on the store file
    (safe while the service runs: SQLite serialises the writers)."""

    from alerts.admin.retention import purge
    from alerts.store import Store
    from config.loader import BundleError, load_bundle

    p = argparse.ArgumentParser(prog="lookout purge",
                                description="Purge tracks and dead letters past retention / 清理过期个人信息")
    p.add_argument("--db", required=True, help="SQLite store")
    p.add_argument("--bundle", required=True, help="its bundle (for track_retention_days)")
    args = p.parse_args(argv)
    try:
        settings = load_bundle(args.bundle).settings
    except (BundleError, FileNotFoundError) as err:
        print(f"lookout purge: bad bundle 部署包错误: {err}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if not os.path.isfile(args.db):  # Store() would create an empty one
        print(f"lookout purge: --db: no such file 找不到数据库: {args.db}", file=sys.stderr)
        return EXIT_BAD_INPUT
    store = Store(args.db)
    try:
        result = purge(store, settings, wall_ms(), "lookout purge")
    finally:
        store.close()
    print(json.dumps(result, ensure_ascii=False, indent=2))
    return 0
