"""Stubs for the system commands install.sh calls, and a temporary root to install into.

Every command that would change the machine (apt-get, useradd, groupadd, usermod, userdel,
systemctl, raspi-config, chown) is replaced at its edge by a small script that appends its
argument list to a log and, for the account tools, edits ``<root>/etc/passwd`` and
``<root>/etc/group`` the way the real tool would. ``python3 -m venv`` makes a virtualenv whose
``pip`` only logs and whose ``pibench`` and ``python`` run the *copied* release code with this
test's Python, so install.sh's health check really runs the version being installed.
"""

from __future__ import annotations

import os
import shlex
import stat
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

_LOG = 'printf "%s\\n" "$(basename "$0") $*" >>"$STUB_LOG"\n'

_SHELL_STUBS = {
    # Read-only look-ups answer from the environment the test sets.
    "apt-cache": 'if [ "$1 $2" = "show python3-lgpio" ]; then exit "${STUB_LGPIO_DEB:-0}"; fi\n',
    "dpkg": 'echo "${STUB_ARCH:-arm64}"\n',
    "apt-get": _LOG,
    "systemctl": _LOG,
    "raspi-config": _LOG,
    "chown": _LOG,
}

_ACCOUNTS = r'''
import os, sys
root = os.environ["PIBENCH_ROOT"]
tool, args = os.path.basename(sys.argv[0]), sys.argv[1:]
with open(os.environ["STUB_LOG"], "a") as log:
    log.write(" ".join([tool, *args]) + "\n")
passwd, group = f"{root}/etc/passwd", f"{root}/etc/group"
def lines(path):
    with open(path) as f:
        return f.read().splitlines()
def write(path, rows):
    with open(path, "w") as f:
        f.write("".join(r + "\n" for r in rows))
name = args[-1]
if tool == "useradd":
    home = args[args.index("--home-dir") + 1]
    uid = 900 + len(lines(passwd))
    write(passwd, [*lines(passwd), f"{name}:x:{uid}:{uid}::{home}:/usr/sbin/nologin"])
    if "--user-group" in args:
        write(group, [*lines(group), f"{name}:x:{uid}:"])
elif tool == "groupadd":
    write(group, [*lines(group), f"{name}:x:{800 + len(lines(group))}:"])
elif tool == "usermod":
    wanted = args[args.index("-G") + 1].split(",")
    rows = []
    for row in lines(group):
        g, x, gid, members = row.split(":")
        people = [m for m in members.split(",") if m]
        if g in wanted and name not in people:
            people.append(name)
        rows.append(":".join([g, x, gid, ",".join(people)]))
    write(group, rows)
elif tool == "userdel":
    write(passwd, [r for r in lines(passwd) if not r.startswith(name + ":")])
    write(group, [r for r in lines(group) if not r.startswith(name + ":")])
'''

_PYTHON3 = r'''
import os, subprocess, sys
real = os.environ["STUB_REAL_PYTHON"]
if sys.argv[1:3] != ["-m", "venv"]:
    os.execv(real, [real, *sys.argv[1:]])
with open(os.environ["STUB_LOG"], "a") as log:
    log.write("python3 " + " ".join(sys.argv[1:]) + "\n")
venv = sys.argv[-1]
os.makedirs(f"{venv}/bin", exist_ok=True)
with open(f"{venv}/bin/pip", "w") as f:
    f.write('#!/bin/sh\nprintf "%s\\n" "pip $*" >>"$STUB_LOG"\n')
release = os.path.dirname(os.path.abspath(venv))
# The test venv's libraries without its .pth files (-S, then site-packages as a plain path): its
# editable pibench must not answer for a module the release lacks. -P: like an installed console
# script, never import pibench from the current directory.
site = subprocess.run([real, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                      capture_output=True, text=True, check=True).stdout.strip()
run = f'PYTHONPATH="{release}/src:{site}" exec "{real}" -P -S'
with open(f"{venv}/bin/pibench", "w") as f:
    f.write(f'#!/bin/sh\n{run} -m edge.cli "$@"\n')
with open(f"{venv}/bin/python", "w") as f:
    f.write(f'#!/bin/sh\n{run} "$@"\n')
for name in ("pip", "pibench", "python"):
    os.chmod(f"{venv}/bin/{name}", 0o755)
'''


@dataclass
class Machine:
    """A temporary root plus the stubbed commands, and a way to run install.sh against them."""

    root: Path
    src: Path
    stubs: Path
    log: Path
    env: dict[str, str]

    def install(self, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        self.log.write_text("")
        return subprocess.run(
            ["bash", str(self.src / "install.sh"), *args],
            env={**self.env, **env}, capture_output=True, text=True, timeout=120,
        )

    def calls(self) -> list[str]:
        return self.log.read_text().splitlines()

    def path(self, p: str) -> Path:
        return self.root / p.lstrip("/")

    def group_members(self, name: str) -> list[str] | None:
        for row in self.path("/etc/group").read_text().splitlines():
            g, _x, _gid, members = row.split(":")
            if g == name:
                return [m for m in members.split(",") if m]
        return None

    def users(self) -> list[str]:
        return [r.split(":")[0] for r in self.path("/etc/passwd").read_text().splitlines()]

    def snapshot(self) -> dict[str, tuple[int, bytes | str]]:
        """Every path under the root with its mode and content (or link target)."""
        out: dict[str, tuple[int, bytes | str]] = {}
        for dirpath, dirnames, filenames in os.walk(self.root):
            for name in dirnames + filenames:
                p = Path(dirpath) / name
                st = p.lstat()
                if stat.S_ISLNK(st.st_mode):
                    out[str(p)] = (st.st_mode, os.readlink(p))
                elif stat.S_ISREG(st.st_mode):
                    out[str(p)] = (st.st_mode, p.read_bytes())
                else:
                    out[str(p)] = (st.st_mode, "")
        return out


def copy_checkout(dest: Path) -> Path:
    """The repository's tracked files, as a user's clone would have them (without .git)."""
    files = subprocess.run(["git", "-C", str(REPO), "ls-files", "--cached", "--others",
                            "--exclude-standard"], capture_output=True, text=True,
                           check=True).stdout.split()
    for rel in files:
        src = REPO / rel
        if src.is_file():
            target = dest / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(src.read_bytes())
            target.chmod(src.stat().st_mode & 0o777)
    return dest


def make_machine(tmp: Path, *, codename: str = "bookworm", pi_os: bool = True,
                 gpio_udev_rule: bool = True, os_id: str = "debian") -> Machine:
    root, stubs, log = tmp / "root", tmp / "stubs", tmp / "calls.log"
    src = copy_checkout(tmp / "checkout")
    for d in ("etc", "lib/udev/rules.d", "usr/bin", "var/lib", "opt"):
        (root / d).mkdir(parents=True, exist_ok=True)
    (root / "etc/os-release").write_text(
        f'PRETTY_NAME="test"\nID={os_id}\nVERSION_CODENAME={codename}\n')
    (root / "etc/passwd").write_text("root:x:0:0:root:/root:/bin/bash\n")
    (root / "etc/group").write_text(
        "root:x:0:\ni2c:x:994:\ndialout:x:20:\nvideo:x:44:\nrender:x:105:\ninput:x:106:\n")
    if pi_os:
        (root / "etc/rpi-issue").write_text("Raspberry Pi reference 2026-01-01\n")
    if gpio_udev_rule:  # as Raspberry Pi OS's 99-com.rules does
        (root / "lib/udev/rules.d/99-com.rules").write_text(
            'SUBSYSTEM=="gpio", KERNEL=="gpiochip*", GROUP="gpio", MODE="0660"\n')
    stubs.mkdir()
    for name, body in _SHELL_STUBS.items():
        (stubs / name).write_text("#!/bin/sh\n" + body)
    for name in ("useradd", "groupadd", "usermod", "userdel"):
        (stubs / name).write_text(f"#!{sys.executable}\n{_ACCOUNTS}")
    (stubs / "python3").write_text(f"#!{sys.executable}\n{_PYTHON3}")
    if pi_os:
        (stubs / "raspi-config").write_text("#!/bin/sh\n" + _LOG)
    else:
        (stubs / "raspi-config").unlink()
    for p in stubs.iterdir():
        p.chmod(0o755)
    log.write_text("")
    env = {
        "PATH": f"{stubs}:{os.environ.get('PATH', '/usr/bin:/bin')}",
        "PIBENCH_ROOT": str(root),
        "STUB_LOG": str(log),
        "STUB_REAL_PYTHON": sys.executable,
        "HOME": str(tmp),
        "LANG": "C.UTF-8",
    }
    return Machine(root, src, stubs, log, env)


def quoted(args: list[str]) -> str:
    return " ".join(shlex.quote(a) for a in args)
