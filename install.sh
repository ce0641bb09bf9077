#!/usr/bin/env bash
# Install pibench on Raspberry Pi OS (Bookworm or Trixie, Pi 4 or Pi 5) as a system service.
#   sudo ./install.sh            install or upgrade, enable and start pibench-edge
#   sudo ./install.sh --no-start install only
# Idempotent: re-running upgrades the code and keeps configuration, tokens and results.
set -euo pipefail

prefix=/opt/pibench
confdir=/etc/pibench
statedir=/var/lib/pibench
user=pibench
start=1
[ "${1:-}" = "--no-start" ] && start=0

if [ "$(id -u)" -ne 0 ]; then
    echo "install.sh must run as root (sudo ./install.sh)" >&2
    exit 1
fi
src=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

echo "== system packages"
apt-get update -q
# python3-lgpio: the Pi 5-capable GPIO backend from Raspberry Pi OS; i2c-tools for i2cdetect.
apt-get install -y -q python3 python3-venv python3-dev i2c-tools python3-lgpio

echo "== I2C"
if [ ! -e /dev/i2c-1 ] && command -v raspi-config >/dev/null; then
    raspi-config nonint do_i2c 0 || echo "could not enable I2C; enable it in raspi-config" >&2
fi

echo "== user $user"
if ! id "$user" >/dev/null 2>&1; then
    useradd --system --create-home --home-dir "$statedir" --shell /usr/sbin/nologin "$user"
fi
for group in i2c gpio dialout; do
    getent group "$group" >/dev/null && usermod -aG "$group" "$user"
done

echo "== code in $prefix"
mkdir -p "$prefix"
# Copy the source tree (not .venv or data) so the installed station does not depend on the
# checkout it was installed from.
tar -C "$src" --exclude=.venv --exclude=.git --exclude=var -cf - . | tar -C "$prefix" -xf -
# --system-site-packages lets the venv see Debian's python3-lgpio, which matches the kernel.
python3 -m venv --system-site-packages "$prefix/.venv"
"$prefix/.venv/bin/pip" install -q --upgrade pip
"$prefix/.venv/bin/pip" install -q "$prefix"

echo "== configuration in $confdir"
install -d -m 0750 -o root -g "$user" "$confdir"
if [ ! -f "$confdir/station.toml" ]; then
    install -m 0640 -o root -g "$user" "$src/docs/station.example.toml" "$confdir/station.toml"
    echo "   wrote $confdir/station.toml: set hardware = \"real\" and the fixture when wired"
fi
# The inventory token file is created empty, owned by the service user, mode 0600: pibench
# refuses a token file that others can read.
if [ ! -f "$confdir/inventory.token" ]; then
    install -m 0600 -o "$user" -g "$user" /dev/null "$confdir/inventory.token"
fi
install -d -m 0750 -o "$user" -g "$user" "$statedir"

echo "== systemd"
install -m 0644 "$src/systemd/pibench-edge.service" /etc/systemd/system/pibench-edge.service
systemctl daemon-reload
systemctl enable pibench-edge.service
if [ "$start" = 1 ]; then
    systemctl restart pibench-edge.service
    systemctl --no-pager status pibench-edge.service || true
fi
echo "done: results in $statedir, logs with 'journalctl -u pibench-edge'"
