"""`lookout run`: the embedded service. One process: the HTTP server (ingest, health, and the
officers' API and page when `alerts.feed` is installed) in front of one officer service
(alerts/service.py): the in-process LiveRuntime, or the Kafka officer runtime.

    lookout run --bundle DIR [--db PATH] [--host 127.0.0.1] [--port 8080]
                [--gateway-token T ...] [--demo] [--kafka BOOTSTRAP [--prefix lookout]]

With `--kafka` the engine runs in `lookout worker` processes instead, and this service reads
their alerts and sends officers' actions and gateways' events to them (stream/kafka/officer.py).
"""

from __future__ import annotations

import argparse
import importlib
import os
import secrets
import sqlite3
import sys
import threading
from collections.abc import Callable
from contextlib import asynccontextmanager
from pathlib import Path

import orjson
from fastapi import FastAPI
from fastapi.responses import JSONResponse

from alerts.service import OfficerService
from alerts.timefmt import wall_ms
from stream.ingest import build_ingest_router
from stream.live import LiveRuntime

DEMO_BUNDLE = Path(__file__).resolve().parent.parent / "config" / "demo"


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("lookout")
    except Exception:  # running from a source tree that was never installed
        return "0.0.0"


def _optional(module: str):
    """The module if it exists; errors inside an existing module are not swallowed."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name and (module == exc.name or module.startswith(exc.name + ".")):
            return None
        raise


def create_app(runtime: OfficerService, *, officer_api: bool = True,
               on_shutdown: Callable[[], None] | None = None) -> FastAPI:
    """The service's app; `officer_api=False` leaves out alerts.feed (ingest and health only).
    `on_shutdown` runs when the server stops gracefully (SIGTERM, Ctrl-C)."""

    @asynccontextmanager
    async def lifespan(_app):
        yield
        if on_shutdown is not None:
            on_shutdown()

    app = FastAPI(
        lifespan=lifespan,
        docs_url=None, redoc_url=None,  # alerts.feed serves /docs without a CDN
        title="Lookout 瞭望",
        version=_version(),
        description="社区矫正定位监管 / community-correction location supervision. "
                    "Gateways post events to /v1/events; officers use the alert API.",
    )
    app.state.runtime = runtime
    app.include_router(build_ingest_router(runtime))

    @app.get("/healthz", tags=["ops 运维"], summary="Liveness and progress / 健康检查")
    def healthz():
        stats = runtime.stats()
        # degraded: supervising, but an operator must act (the store cannot write, or the
        # bundle on disk was refused); the reasons are in store_fault and bundle_invalid
        degraded = stats.get("store_fault") or stats.get("bundle_invalid")
        stats["status"] = "failed" if not runtime.alive else "degraded" if degraded else "ok"
        return JSONResponse(stats, 200 if runtime.alive else 503)

    # Prometheus scrapes this; it carries no personal data (no person or alert ids as labels)
    app.add_route("/metrics", runtime.metrics.starlette_endpoint(), include_in_schema=False)

    feed_api = _optional("alerts.feed.api") if officer_api else None
    if feed_api is not None:  # it serves the officers' page too, with its security headers
        app.include_router(feed_api.build_router(runtime))
    return app


class DemoFeed(threading.Thread):
    """The simulator's feed for a bundle, at the live clock: each event is posted when its
    ts comes. Hour after hour the same simulated hour runs again (same homes, same plan).
    The first hour starts a few minutes back so that something happens soon; that backlog
    is far shorter than any silence timeout, so it raises nothing that live data would not."""

    def __init__(self, runtime: OfficerService, bundle_dir, backfill_min: float = 8.0):
        super().__init__(name="lookout-demo-feed", daemon=True)
        self.runtime, self.bundle_dir = runtime, bundle_dir
        self.start_ms = wall_ms() - int(backfill_min * 60_000)
        self.stopped = threading.Event()

    def run(self) -> None:
        from config.loader import parse_ts_ms
        from stream.simulate.feed import simulate

        hour = 3_600_000
        try:
            while not self.stopped.is_set():
                feed = simulate(self.bundle_dir, start_ms=self.start_ms, hours=1,
                                fix_interval_s=60, seed=1, violations=4, tick_at_end=False)
                due: list[bytes] = []
                for event in feed:
                    ts = parse_ts_ms(event["ts"])
                    if ts > wall_ms():
                        self._post(due)
                        if self.stopped.wait((ts - wall_ms()) / 1000):
                            return
                    due.append(orjson.dumps(event))
                self._post(due)
                self.start_ms += hour
        except RuntimeError:  # the runtime stopped under us
            return

    def _post(self, lines: list[bytes]) -> None:
        if lines:
            self.runtime.submit_events(lines)
            lines.clear()

    def stop(self) -> None:
        self.stopped.set()


def _demo_copy(bundle: Path, home: Path) -> Path:
    """The demo runs on a copy of its bundle: changes made through the admin API (a permit
    approved to try it out) are written to the bundle folder, and must not edit the
    repository's demo."""
    import shutil

    copy = home / f"bundle-{bundle.resolve().name}"
    if not copy.is_dir():
        home.mkdir(parents=True, exist_ok=True)
        shutil.copytree(bundle, copy)
    return copy


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="lookout run",
                                description="Run the embedded service / 运行监管服务")
    p.add_argument("--bundle", required=True, help="deployment bundle folder / 部署包目录")
    p.add_argument("--strict", action="store_true",
                   help="refuse to start when the bundle on disk is refused, instead of running "
                        "on the last good bundle kept in the store / 部署包无效时拒绝启动")
    p.add_argument("--db", help="SQLite store (default: lookout.db, lookout-kafka.db with "
                                "--kafka; in .lookout-demo/ with --demo)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8080)
    p.add_argument("--gateway-token", action="append", default=[],
                   help="a token gateways send as 'Authorization: Bearer T'; repeat for "
                        "several (also LOOKOUT_GATEWAY_TOKENS, comma-separated)")
    p.add_argument("--demo", action="store_true",
                   help="feed the runtime from the simulator in real time / 演示模式")
    p.add_argument("--batch-ms", type=int, default=200, help="how long events gather (ms)")
    p.add_argument("--tick-ms", type=int, default=1000, help="wall-clock tick interval (ms)")
    p.add_argument("--notify", metavar="FILE",
                   help="webhook targets (TOML/JSON; see alerts/notify/README.md) / 消息推送配置")
    p.add_argument("--snapshot-every-s", type=float, default=5.0,
                   help="state snapshot interval (s)")
    p.add_argument("--kafka", metavar="BOOTSTRAP",
                   help="serve the officers from Kafka workers (`lookout worker`) instead of an "
                        "in-process engine / Kafka 模式：告警来自处理进程")
    p.add_argument("--prefix", default="lookout", help="Kafka topic prefix (default: lookout)")
    p.add_argument("--tls-cert", metavar="FILE", help="serve HTTPS with this certificate (PEM, "
                                                      "chain included) / TLS 证书")
    p.add_argument("--tls-key", metavar="FILE", help="the certificate's private key (PEM) / TLS 私钥")
    p.add_argument("--insecure-http", action="store_true",
                   help="allow plain HTTP on an address other machines can reach (behind a "
                        "TLS proxy on the same network only) / 允许非本机地址使用明文 HTTP")
    p.add_argument("--trusted-proxy", metavar="ADDR", action="append", default=[],
                   help="a reverse proxy whose X-Forwarded-For is believed (repeat for "
                        "several); from anyone else the header is ignored / 可信反向代理地址")
    return p


class FlagError(ValueError):
    """A flag the service cannot start with; the message is the one line it prints."""


def _is_loopback(host: str) -> bool:
    import ipaddress

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a name: it may resolve to anything


def server_options(args) -> dict:
    """uvicorn's TLS and proxy options from the flags; FlagError when they do not hold up:
    personal data never crosses a network in clear text unless the operator says so."""
    if bool(args.tls_cert) != bool(args.tls_key):
        raise FlagError("--tls-cert and --tls-key go together / 证书与私钥须同时给出")
    for flag, path in (("--tls-cert", args.tls_cert), ("--tls-key", args.tls_key)):
        if path and not os.access(path, os.R_OK):
            raise FlagError(f"{flag}: cannot read 无法读取 {path}")
    if not args.tls_cert and not args.insecure_http and not _is_loopback(args.host):
        raise FlagError(f"--host {args.host}: other machines could reach it in clear text; give "
                        "--tls-cert/--tls-key, or --insecure-http behind a TLS proxy / 非本机地址须启用 "
                        "TLS（或在 TLS 反向代理之后使用 --insecure-http）")
    if args.tls_cert:
        import ssl

        try:
            ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(args.tls_cert,
                                                                                args.tls_key)
        except (ssl.SSLError, OSError) as err:
            raise FlagError(f"--tls-cert/--tls-key: not a certificate and its key 证书或私钥无效: "
                            f"{args.tls_cert}, {args.tls_key} ({err})") from None
    options: dict = {"proxy_headers": bool(args.trusted_proxy),
                     "forwarded_allow_ips": ",".join(args.trusted_proxy) or None}
    if args.tls_cert:
        options |= {"ssl_certfile": args.tls_cert, "ssl_keyfile": args.tls_key}
    return options


def _kafka_runtime(args, db: str, tokens: list[str]) -> OfficerService | int:
    """The Kafka-mode runtime, started; an exit code when Kafka cannot serve (1)."""
    from kafka.errors import KafkaError

    from stream.kafka.officer import KafkaOfficerRuntime, KafkaSetupError

    try:
        runtime = KafkaOfficerRuntime(args.bundle, db, args.kafka, args.prefix,
                                      gateway_tokens=tokens, notify_config=args.notify)
    except KafkaSetupError as err:
        print(f"lookout: {err}", file=sys.stderr)
        return 1
    try:
        return runtime.start()
    except (KafkaError, RuntimeError) as err:
        runtime.stop()
        print(f"lookout: cannot read Kafka 无法读取 Kafka: {err!r}", file=sys.stderr)
        return 1


def _store_error(db: str, err: Exception) -> str:
    return (f"lookout: --db {db}: cannot open the store for writing 无法打开或写入数据库 "
            f"({err})")


def _gateway_tokens(args) -> list[str]:
    """--gateway-token and LOOKOUT_GATEWAY_TOKENS; a made-up one for the demo when none."""
    tokens = list(args.gateway_token)
    tokens += [t.strip() for t in os.environ.get("LOOKOUT_GATEWAY_TOKENS", "").split(",")]
    tokens = [t for t in tokens if t]
    if args.demo and not tokens:
        tokens = [secrets.token_urlsafe(16)]
    return tokens


def _store_path(args) -> str:
    # a store belongs to one mode: an embedded engine's alerts mean nothing to the workers
    name = "lookout-kafka.db" if args.kafka else "lookout.db"
    return args.db or (f".lookout-demo/{name}" if args.demo else name)


def _open_service(args, db: str, tokens: list[str]) -> OfficerService | int:
    """The officer service of the mode the flags ask for, started; else the exit code, its
    one line printed."""
    from config.loader import BundleError

    try:
        if args.kafka:
            return _kafka_runtime(args, db, tokens)
        return LiveRuntime(args.bundle, db, gateway_tokens=tokens, batch_ms=args.batch_ms,
                           tick_ms=args.tick_ms, snapshot_every_s=args.snapshot_every_s,
                           notify_config=args.notify, strict=args.strict).start()
    except (BundleError, FileNotFoundError) as err:
        print(f"lookout: bad bundle 部署包错误: {err}", file=sys.stderr)
        return 2
    except (sqlite3.Error, OSError) as err:
        print(_store_error(db, err), file=sys.stderr)
        return 2


def _say_running(args, runtime: OfficerService, db: str, tokens: list[str]) -> None:
    url = f"{'https' if args.tls_cert else 'http'}://{args.host}:{args.port}/"
    print(f"Lookout 瞭望 running 运行中: {url}  (API: {url}docs, store 数据库: {db}, "
          f"bundle 部署包: {args.bundle})", flush=True)
    invalid = runtime.bundle_invalid
    if invalid:
        print(f"bundle_invalid 部署包无效: {invalid['file']}:{invalid['where']}: "
              f"{invalid['field']}: refused; running on the last good bundle kept in the "
              "store / 已拒绝，按存储中最后一份有效部署包继续监管", flush=True)
    if args.kafka:
        print(f"Kafka mode Kafka 模式: {args.kafka}, topics 主题 {args.prefix}.*; alerts "
              "come from `lookout worker` 告警来自处理进程", flush=True)
    if not tokens:
        print("ingest closed 数据接入未开放: no --gateway-token / 未配置网关令牌", flush=True)


def _start_demo(demo: DemoFeed, token: str, db: str, runtime: OfficerService) -> None:
    print(f"demo gateway token 演示网关令牌: {token}", flush=True)
    access = _optional("alerts.feed.access")
    if access is not None:
        for user, password in access.seed_demo_logins(db, runtime.bundle):
            print(f"demo login 演示登录: {user} / {password}", flush=True)
    demo.start()


def cli_run(argv: list[str]) -> int:
    import uvicorn

    from alerts.store import StoreLocked, lock_writer

    args = _parser().parse_args(argv)
    try:
        server = server_options(args)
    except FlagError as err:
        print(f"lookout: {err}", file=sys.stderr)
        return 2
    tokens = _gateway_tokens(args)
    db = _store_path(args)
    fresh = not Path(db).exists()
    if args.demo and Path(args.bundle).is_dir():
        args.bundle = str(_demo_copy(Path(args.bundle), Path(db).parent))
    try:  # one writer per store: held until this process ends, however it ends
        writer_lock = lock_writer(db)  # noqa: F841 - the open file is the lock
    except StoreLocked as err:
        print(f"lookout: {err}", file=sys.stderr)
        return 1
    except OSError as err:  # the lock file cannot be made: neither can the store
        print(_store_error(db, err), file=sys.stderr)
        return 2
    runtime = _open_service(args, db, tokens)
    if isinstance(runtime, int):
        return runtime
    # a resumed demo store has seen those minutes already: no backlog then
    demo = DemoFeed(runtime, args.bundle, 8.0 if fresh else 0.0) if args.demo else None

    def shutdown() -> None:  # before uvicorn re-raises the signal that stopped it
        if demo is not None:
            demo.stop()
        runtime.stop()

    try:
        try:
            app = create_app(runtime, on_shutdown=shutdown)
        except (sqlite3.Error, OSError) as err:
            print(_store_error(db, err), file=sys.stderr)
            return 2
        _say_running(args, runtime, db, tokens)
        if demo is not None:
            _start_demo(demo, tokens[0], db, runtime)
        uvicorn.run(app, host=args.host, port=args.port, log_level="info", access_log=False,
                    **server)
    finally:
        shutdown()
    return 0
