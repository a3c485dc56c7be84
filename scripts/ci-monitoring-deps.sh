#!/bin/sh
# Installs promtool (Debian's `prometheus` package ships it) for the monitoring tests.
# Idempotent, and leaves no Prometheus server running: CI only needs the checker.
set -eu

if command -v promtool >/dev/null 2>&1; then
    promtool --version 2>&1 | head -n 1
    exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi

# The package's postinst asks invoke-rc.d to start the server; a policy-rc.d that answers 101
# forbids it. Container images usually have one; add ours only for the install if not.
POLICY=/usr/sbin/policy-rc.d
OURS=""
if [ ! -e "$POLICY" ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$POLICY" >/dev/null
    $SUDO chmod 755 "$POLICY"
    OURS=1
fi
cleanup() {
    if [ -n "$OURS" ]; then
        $SUDO rm -f "$POLICY"
    fi
}
trap cleanup EXIT

# Wait for another apt run (unattended upgrades, a parallel job) instead of failing on its lock.
APT_LOCK="-o DPkg::Lock::Timeout=600"
$SUDO apt-get $APT_LOCK update
# Recommends would pull in prometheus-node-exporter, another daemon we do not want.
DEBIAN_FRONTEND=noninteractive $SUDO apt-get $APT_LOCK install -y --no-install-recommends prometheus

# If an init system started it anyway (a host with systemd and no policy-rc.d), stop it.
if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
    $SUDO systemctl disable --now prometheus >/dev/null 2>&1 || true
fi
if command -v pgrep >/dev/null 2>&1 && pgrep -x prometheus >/dev/null 2>&1; then
    echo "warning: a prometheus server is running; it was not started by this script" >&2
fi

promtool --version 2>&1 | head -n 1
