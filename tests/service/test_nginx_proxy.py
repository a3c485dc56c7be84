"""deploy/nginx/lookout.conf in front of `lookout run`, for real: HTTPS with a throwaway CA,
the live stream unbuffered through the proxy, and the login throttle counting the caller's
own address (not the proxy's, not one the caller made up)."""

from __future__ import annotations

import json
import re
import shutil
import socket
import sqlite3
import ssl
import subprocess
import time
from pathlib import Path

import httpx
import pytest
from servicekit import ADMIN_PASSWORD, Service, now_ms, status, with_admin

ROOT = Path(__file__).resolve().parents[2]
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
CALLER = "127.0.0.2"  # the officer's machine: any loopback address but the proxy's

pytestmark = pytest.mark.skipif(not Path(NGINX).exists(), reason="nginx not installed")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def site_config(tmp: Path, https_port: int, http_port: int, upstream_port: int,
                cert: Path, key: Path) -> Path:
    """The example site as shipped, with this test's ports, files and a main block around it."""
    site = (ROOT / "deploy" / "nginx" / "lookout.conf").read_text(encoding="utf-8")
    site = (site.replace("server 127.0.0.1:8080;", f"server 127.0.0.1:{upstream_port};")
            .replace("listen 443 ", f"listen 127.0.0.1:{https_port} ")
            .replace("listen 80;", f"listen 127.0.0.1:{http_port};")
            .replace("/etc/nginx/tls/lookout.crt", str(cert))
            .replace("/etc/nginx/tls/lookout.key", str(key))
            .replace("/var/log/nginx/lookout.access.log", str(tmp / "access.log")))
    conf = tmp / "nginx.conf"
    conf.write_text(f"""
pid {tmp}/nginx.pid;
error_log {tmp}/error.log;
events {{ worker_connections 64; }}
http {{
    client_body_temp_path {tmp}/body; proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fcgi; uwsgi_temp_path {tmp}/uwsgi; scgi_temp_path {tmp}/scgi;
{site}
}}
""", encoding="utf-8")
    return conf


@pytest.fixture
def proxied(tmp_path, bundle_dir):
    trustme = pytest.importorskip("trustme")
    ca = trustme.CA()
    issued = ca.issue_cert("127.0.0.1", "localhost")
    cert, key, ca_pem = tmp_path / "cert.pem", tmp_path / "key.pem", tmp_path / "ca.pem"
    issued.cert_chain_pems[0].write_to_path(str(cert))
    issued.private_key_pem.write_to_path(str(key))
    ca.cert_pem.write_to_path(str(ca_pem))
    db = tmp_path / "lookout.db"
    with_admin(bundle_dir, db)
    https_port = free_port()
    with Service(bundle_dir, db, "--gateway-token", "gw", "--trusted-proxy", "127.0.0.1") as svc:
        upstream = int(svc.url.rsplit(":", 1)[1])
        conf = site_config(tmp_path, https_port, free_port(), upstream, cert, key)
        check = subprocess.run([NGINX, "-t", "-c", str(conf)], capture_output=True, text=True)
        assert check.returncode == 0, check.stderr
        nginx = subprocess.Popen([NGINX, "-c", str(conf), "-g", "daemon off;"])
        try:
            yield from _client(https_port, ca_pem, db, tmp_path)
        finally:
            nginx.terminate()
            nginx.wait(10)


def _client(https_port: int, ca_pem: Path, db: Path, tmp_path: Path):
    """A client on CALLER's address that trusts the test CA, once nginx answers."""
    trusted = ssl.create_default_context(cafile=str(ca_pem))
    with httpx.Client(base_url=f"https://127.0.0.1:{https_port}", timeout=15, verify=trusted,
                      transport=httpx.HTTPTransport(local_address=CALLER, verify=trusted)
                      ) as client:
        deadline = time.monotonic() + 10
        while True:
            try:
                client.get("/healthz")
                break
            except httpx.ConnectError:
                assert time.monotonic() < deadline, "nginx did not start"
                time.sleep(0.1)
        yield client, db, tmp_path


def test_through_the_example_proxy_the_stream_flows_and_logins_count_the_callers_address(proxied):
    client, db, tmp = proxied
    # a made-up X-Forwarded-For is not believed: nginx appends what it saw, Lookout takes that
    r = client.post("/v1/login", headers={"X-Forwarded-For": "6.6.6.6"},
                    json={"officer_id": "ops-admin", "password": "a wrong guess"})
    assert r.status_code == 401
    with sqlite3.connect(db) as con:
        clients = {k for (k,) in con.execute(
            "SELECT key FROM login_attempts WHERE key LIKE 'client:%'")}
    assert clients == {f"client:{CALLER}"}

    token = client.post("/v1/login", json={"officer_id": "ops-admin",
                                           "password": ADMIN_PASSWORD}).json()["token"]
    ticket = client.post("/v1/stream/ticket",
                         headers={"Authorization": f"Bearer {token}"}).json()["ticket"]
    with client.stream("GET", f"/v1/stream?ticket={ticket}") as stream:
        assert stream.status_code == 200
        lines = stream.iter_lines()
        assert next(ln for ln in lines if ln.startswith("event:")) == "event: ready"
        sent = time.monotonic()
        r = client.post("/v1/events", content=status("P1", now_ms() - 1000, "tamper"),
                        headers={"Authorization": "Bearer gw",
                                 "Content-Type": "application/x-ndjson"})
        assert r.status_code == 202 and r.json()["accepted"] == 1
        assert next(ln for ln in lines if ln.startswith("event:")) == "event: alert"
        data = json.loads(next(ln for ln in lines if ln.startswith("data:"))[5:])
        assert data["person_id"] == "P1" and data["type"] == "tamper"
        assert time.monotonic() - sent < 5  # not held back in a proxy buffer
    log = (tmp / "access.log").read_text()
    assert ticket not in log and "/v1/stream" in log and not re.search(r"ticket=", log)
