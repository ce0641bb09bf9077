#!/usr/bin/env bash
# The full install test (not in CI: it takes minutes and needs root, debootstrap and network to
# the Debian mirror and PyPI). It does what a workshop does, in a Debian bookworm chroot:
#
#   1. debootstrap a bookworm system (cached in $CACHE between runs);
#   2. supply the Raspberry Pi OS parts Debian lacks: /etc/rpi-issue, a raspi-config that logs,
#      the udev rule that gives /dev/gpiochip* to the gpio group; and a systemctl that logs
#      (no systemd runs in a chroot);
#   3. a user 'tech' clones the repository (this checkout's HEAD) and runs sudo ./install.sh;
#   4. starts the station as pibench-edge.service would (its user, groups, working directory
#      and environment, read from the installed unit), checks it runs; runs the touchscreen's
#      command as pibench-kiosk.service would (pibench-hmi, the kiosk's env files) headless in a
#      tmux pane and reads the screen until it shows the station's products; stops the station
#      with SIGTERM;
#   5. runs a board on the simulated hardware as the service user, then reads it back as tech
#      (a technician in the pibench group) with 'pibench history' and 'pibench doctor';
#   6. upgrades (a commit removing a file), checks the file is gone and results kept; rolls back.
#
# Usage: sudo tests/install/chroot-test.sh [--keep]      (arch: the host's; on arm64 under
# qemu-user where binfmt_misc is set up: ARCH=arm64 sudo tests/install/chroot-test.sh, with the
# Debian packages qemu-user-static and binfmt-support; 8 minutes on an amd64 host, 5 with the cache)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
ARCH=${ARCH:-$(dpkg --print-architecture)}
MIRROR=${MIRROR:-http://deb.debian.org/debian}
CACHE=${CACHE:-/var/tmp/pibench-chroot-cache}
keep=0
[ "${1:-}" = --keep ] && keep=1
[ "$(id -u)" = 0 ] || { echo "run as root" >&2; exit 77; }
command -v debootstrap >/dev/null || { echo "apt-get install debootstrap" >&2; exit 69; }
command -v tmux >/dev/null || { echo "apt-get install tmux" >&2; exit 69; }

root=$(mktemp -d /var/tmp/pibench-chroot.XXXXXX)
step() { printf '\n=== %s\n' "$*"; }
in_root() { chroot "$root" /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 "$@"; }
cleanup() {
    for m in dev/pts dev proc sys; do umount -l "$root/$m" 2>/dev/null || true; done
    if [ "$keep" = 0 ]; then rm -rf "$root"; else echo "kept: $root"; fi
}
trap cleanup EXIT

step "1. Debian bookworm ($ARCH) in $root"
tarball="$CACHE/bookworm-$ARCH.tar"
if [ ! -f "$tarball" ]; then
    mkdir -p "$CACHE"
    debootstrap --arch="$ARCH" --variant=minbase \
        --include=python3,python3-venv,git,sudo,ca-certificates,i2c-tools,udev,passwd,util-linux \
        bookworm "$root" "$MIRROR"
    tar -C "$root" -cf "$tarball" .
else
    tar -C "$root" -xf "$tarball"
fi
chmod 755 "$root" # mktemp made it private: the chroot's users must traverse /
# Another architecture (a cached tarball skips debootstrap's own check) runs through qemu-user.
chroot "$root" /bin/true 2>/dev/null || { echo "cannot run $ARCH programs here: apt-get install" \
    "qemu-user-static binfmt-support, with binfmt_misc mounted (update-binfmts --display)" >&2; exit 69; }
cp /etc/resolv.conf "$root/etc/resolv.conf"
# A network behind a TLS-inspecting proxy: trust in the chroot what the host trusts (a station
# on such a network needs the same), so pip reaches PyPI as on the host.
if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
    cp /usr/local/share/ca-certificates/*.crt "$root/usr/local/share/ca-certificates/"
    chroot "$root" update-ca-certificates >/dev/null
fi
[ -f /etc/pip.conf ] && cp /etc/pip.conf "$root/etc/pip.conf"
mount -t proc proc "$root/proc"
mount --rbind /dev "$root/dev"
mount -t sysfs sys "$root/sys"

step "2. the Raspberry Pi OS parts Debian lacks (stubs that log)"
echo "Raspberry Pi reference (chroot test)" >"$root/etc/rpi-issue"
cat >"$root/usr/bin/raspi-config" <<'EOF'
#!/bin/sh
echo "raspi-config $*" >>/var/log/stub-calls.log
EOF
cat >"$root/usr/local/sbin/systemctl" <<'EOF'
#!/bin/sh
echo "systemctl $*" >>/var/log/stub-calls.log
case "$1" in is-active) echo inactive; exit 3 ;; esac
EOF
chmod 755 "$root/usr/bin/raspi-config" "$root/usr/local/sbin/systemctl"
echo 'SUBSYSTEM=="gpio", KERNEL=="gpiochip*", GROUP="gpio", MODE="0660"' \
    >"$root/etc/udev/rules.d/99-com.rules"
# Debian's i2c-tools creates the i2c group; dialout is in base-passwd.

step "3. tech clones the repository and runs sudo ./install.sh"
in_root useradd --create-home --shell /bin/bash tech
git -C "$here" bundle create "$root/tmp/pibench.bundle" HEAD >/dev/null 2>&1
in_root su tech -c 'git clone -q /tmp/pibench.bundle /home/tech/pibench && git -C /home/tech/pibench log --oneline -1'
allow=""
[ "$ARCH" = arm64 ] || allow="PIBENCH_ALLOW_ARCH=$ARCH" # no lgpio off ARM: simulated only
in_root sh -c "cd /home/tech/pibench && $allow ./install.sh --no-start"
first=$(readlink "$root/opt/pibench/current")
echo "installed: $first"
in_root stat -c '%U:%G %a %n' "/opt/pibench/$first/src/edge/cli.py" /etc/pibench \
    /etc/pibench/station.toml /etc/pibench/inventory.token /var/lib/pibench
in_root id pibench

# The station's API on a port free on this host (the chroot shares its network), the way an
# installer moves it: edit station.toml, re-run install.sh, which tells the kiosk (api.env).
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
sed -i "s/^listen = \"127.0.0.1:8750\"/listen = \"127.0.0.1:$port\"/" "$root/etc/pibench/station.toml"
in_root sh -c "cd /home/tech/pibench && $allow ./install.sh --no-start" | tail -2
grep "PIBENCH_API_URL=http://127.0.0.1:$port" "$root/etc/pibench-kiosk/api.env" ||
    { echo "the kiosk was not told the station's new address"; exit 1; }

step "4. the station as the unit starts it"
unit="$root/etc/systemd/system/pibench-edge.service"
workdir=$(sed -n 's/^WorkingDirectory=//p' "$unit")
exec_start=$(sed -n 's/^ExecStart=//p' "$unit")
mapfile -t environment < <(sed -n 's/^Environment=//p' "$unit")
# exec all the way down, so $! is the station itself and receives the signal (as with systemd).
(exec chroot "$root" setpriv --reuid=pibench --regid=pibench --init-groups \
    env -i PATH=/usr/bin:/bin "${environment[@]}" sh -c "cd $workdir && exec $exec_start" \
    >"$root/tmp/station.log" 2>&1) &
station=$!
sleep 5
if kill -0 "$station" 2>/dev/null; then echo "station running (pid $station)"; else
    echo "station exited early:"; cat "$root/tmp/station.log"; exit 1; fi

step "4b. the touchscreen's command as pibench-kiosk.service runs it, headless in tmux"
# The HMI command is what foot runs inside labwc (after its '--'), with the unit's environment
# and /etc/pibench-kiosk's env files, as pibench-hmi (which cannot read /etc/pibench). No
# compositor in a chroot: a tmux pane of the host stands in for foot's terminal.
kunit="$root/etc/systemd/system/pibench-kiosk.service"
hmi_cmd=$(sed -n 's/^ExecStart=.* -- \(.*\)"$/\1/p' "$kunit")
mapfile -t kenv < <(sed -n 's/^Environment=//p' "$kunit" | tr ' ' '\n'
                    cat "$root/etc/pibench-kiosk/api.env" "$root/etc/pibench-kiosk/hmi.env" | grep -v '^#')
for ((i = ${#kenv[@]} - 1; i >= 0; i--)); do # systemd expands ${VAR}; the env files win
    kv=${kenv[i]}
    hmi_cmd=${hmi_cmd//"\${${kv%%=*}}"/${kv#*=}}
done
echo "kiosk command: $hmi_cmd"
khome=$(sed -n 's/^WorkingDirectory=//p' "$kunit")
in_root install -d -o pibench-hmi -g pibench-hmi -m 0700 "$khome" # the unit's StateDirectory=
in_root stat -c '%U:%G %a %n' /etc/pibench-kiosk /etc/pibench-kiosk/api.env
in_root setpriv --reuid=pibench-hmi --regid=pibench-hmi --init-groups cat /etc/pibench/station.toml \
    >/dev/null 2>&1 && { echo "pibench-hmi reads /etc/pibench!"; exit 1; } ||
    echo "pibench-hmi cannot read /etc/pibench: ok"
tmx() { tmux -L "pibench-chroot-$$" "$@"; }
tmx new-session -d -x 100 -y 30 "chroot $root setpriv --reuid=pibench-hmi --regid=pibench-hmi --init-groups env -i PATH=/usr/bin:/bin HOME=$khome TERM=xterm-256color ${kenv[*]} sh -c 'cd $khome && exec $hmi_cmd'" # Textual draws on stderr: no redirection
tmx set-option -g remain-on-exit on >/dev/null # a crashed HMI leaves its last screen to read
seen=""
for _ in $(seq 60); do
    sleep 1
    screen=$(tmx capture-pane -p 2>/dev/null || true)
    if grep -q PowerBank <<<"$screen"; then seen=1; break; fi
done
printf '%s\n' "$screen" | sed 's/[[:space:]]*$//' | grep -v '^$' | head -30 || true
tmx kill-server 2>/dev/null || true
[ -n "$seen" ] || { echo "the HMI did not show the station's products (its last screen above)"; exit 1; }
echo "the HMI, as pibench-hmi with the kiosk's command, shows the station's products: ok"

kill -TERM "$station"
wait "$station" && code=0 || code=$?
echo "station stopped by SIGTERM, exit $code"; cat "$root/tmp/station.log"

step "5. a board on simulated hardware, then read back by a technician"
service_bin=${exec_start%% *} # the unit's own pibench, with the unit's configuration
in_root setpriv --reuid=pibench --regid=pibench --init-groups env -i PATH=/usr/bin:/bin \
    "${environment[@]}" sh -c "cd $workdir && $service_bin --config /etc/pibench/station.toml run --product PowerBank-Foolish --serial PBF-000042 | tail -3"
in_root usermod -aG pibench tech
in_root su tech -c 'pibench history --serial PBF-000042' | tee "$root/tmp/history.txt"
grep -q PBF-000042 "$root/tmp/history.txt" || { echo "tech does not see the run"; exit 1; }
in_root su tech -c 'cat /etc/pibench/inventory.token' && { echo "token readable by tech!"; exit 1; } ||
    echo "tech cannot read the token: ok"
in_root su tech -c 'pibench doctor' || true

step "6. upgrade (a file removed), then roll back"
in_root su tech -c 'cd /home/tech/pibench && git rm -q docs/adding-a-product.md && git -c user.name=t -c user.email=t@t commit -qm "remove a doc"'
in_root sh -c "cd /home/tech/pibench && $allow ./install.sh --no-start" | tail -4
second=$(readlink "$root/opt/pibench/current")
test -e "$root/opt/pibench/$second/src/docs/adding-a-product.md" && { echo "removed file kept!"; exit 1; }
echo "upgraded: $first -> $second; removed file gone; previous: $(readlink "$root/opt/pibench/previous")"
in_root su tech -c 'pibench history --serial PBF-000042' | grep PBF-000042 ||
    { echo "results lost in the upgrade"; exit 1; }
in_root sh -c "cd /home/tech/pibench && ./install.sh --rollback --no-start" | tail -2
echo "after rollback: current $(readlink "$root/opt/pibench/current")"
[ "$(readlink "$root/opt/pibench/current")" = "$first" ] || { echo "rollback did not return"; exit 1; }
echo; echo "stub calls:"; sort "$root/var/log/stub-calls.log" | uniq -c
echo; echo "CHROOT TEST PASSED"
