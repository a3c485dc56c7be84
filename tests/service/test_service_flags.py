"""`lookout run` on a network: TLS, refusing clear text on a reachable address, whose
X-Forwarded-For it believes, and one clear line when the store cannot be opened."""

from __future__ import annotations

import ssl
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from servicekit import Service

ROOT = Path(__file__).resolve().parents[2]


def run_fails(*args: str) -> tuple[int, str]:
    proc = subprocess.run([sys.executable, "-m", "stream.cli", "run", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    return proc.returncode, proc.stderr + proc.stdout


def test_https_with_a_certificate_from_a_test_ca(tmp_path, bundle_dir):
    trustme = pytest.importorskip("trustme")
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    cert_pem, key_pem, ca_pem = (tmp_path / "cert.pem", tmp_path / "key.pem", tmp_path / "ca.pem")
    cert.cert_chain_pems[0].write_to_path(str(cert_pem))
    for extra in cert.cert_chain_pems[1:]:
        extra.write_to_path(str(cert_pem), append=True)
    cert.private_key_pem.write_to_path(str(key_pem))
    ca.cert_pem.write_to_path(str(ca_pem))
    trusted = ssl.create_default_context(cafile=str(ca_pem))
    svc = Service(bundle_dir, tmp_path / "lookout.db", "--tls-cert", str(cert_pem),
                  "--tls-key", str(key_pem), "--gateway-token", "gw", scheme="https",
                  verify=trusted)
    try:
        svc.wait_ready()
        r = httpx.post(f"{svc.url}/v1/events", content=b"", verify=trusted,
                       headers={"Authorization": "Bearer gw"})
        assert r.status_code == 202 and r.url.scheme == "https"
        with pytest.raises(httpx.HTTPError):  # no clear text on the same port
            httpx.get(svc.url.replace("https", "http") + "/healthz", timeout=2)
        with pytest.raises(httpx.ConnectError):  # and a client that does not know the CA refuses
            httpx.get(f"{svc.url}/healthz", timeout=2)
        assert "running" in svc.log.read_text() and "https://" in svc.log.read_text()
    finally:
        svc.stop()


@pytest.mark.parametrize("flags, says", [
    (("--host", "0.0.0.0"), "--tls-cert"),
    (("--host", "192.0.2.7"), "--insecure-http"),
    (("--tls-cert", "nope.pem"), "go together"),
    (("--tls-cert", "/nonexistent/cert.pem", "--tls-key", "/nonexistent/key.pem"), "cannot read"),
])
def test_flags_that_would_expose_or_cannot_work_stop_start_up_in_one_line(bundle_dir, flags, says):
    code, out = run_fails("--bundle", str(bundle_dir), *flags)
    assert code == 2
    assert out.count("\n") == 1 and says in out and "Traceback" not in out


def test_a_certificate_that_is_not_one_stops_start_up_in_one_line(tmp_path, bundle_dir):
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate")
    code, out = run_fails("--bundle", str(bundle_dir), "--tls-cert", str(junk),
                          "--tls-key", str(junk))
    assert code == 2 and out.count("\n") == 1 and "junk.pem" in out


def test_a_store_that_cannot_be_opened_is_one_line_not_a_traceback(tmp_path, bundle_dir):
    bad = tmp_path / "not-a-store.db"
    bad.write_text("this is not SQLite, " * 100)
    code, out = run_fails("--bundle", str(bundle_dir), "--db", str(bad))
    assert code == 2 and out.count("\n") == 1 and "not-a-store.db" in out, out


def test_a_read_only_store_is_one_line_not_a_traceback(tmp_path, bundle_dir):
    mnt = tmp_path / "ro"
    mnt.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m,ro", "tmpfs", str(mnt)],
                      capture_output=True).returncode != 0:
        pytest.skip("needs root to mount a read-only tmpfs")
    try:
        code, out = run_fails("--bundle", str(bundle_dir), "--db", str(mnt / "lookout.db"))
        assert code == 2 and out.count("\n") == 1 and "lookout.db" in out, out
    finally:
        subprocess.run(["umount", str(mnt)], check=True)
