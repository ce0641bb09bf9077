"""Issue 10 §4: `pibench sync setup` prepares InvenTree from the plans; a dry run changes
nothing; templates that would reject the station's results are refused by name."""

from __future__ import annotations

import argparse
import io
from pathlib import Path

from sync_helpers import TOKEN, write_token

from edge.sync.cli import sync_setup

PRODUCT = "PowerBank-Foolish"  # the shipped plan
EXPECTED = ["firstpulsefirst_pulse", "pulsetimingpulse_width", "pulsetiminggap",
            "pulsetimingperiod", "pulsetimingduty", "pibenchrun"]


def config(workdir: Path, url: str, extra: str = "") -> Path:
    token = write_token(workdir / "token")
    path = workdir / "station.toml"
    path.write_text(
        f'[station]\ndata_dir = "{workdir}"\n[sync]\nbackend = "inventree"\nurl = "{url}"\n'
        f'token_file = "{token}"\nrun_template = "pibenchrun"\n'
        f'[sync.parts]\n"{PRODUCT}" = "PBF-B"\n{extra}')
    return path


def setup(cfg: Path, dry_run: bool) -> tuple[int, str]:
    out = io.StringIO()
    code = sync_setup(argparse.Namespace(config=str(cfg), dry_run=dry_run), out)
    return code, out.getvalue()


def keys(server) -> list[str]:
    return [t["key"] for t in server.control("templates")]


def test_setup_creates_the_plans_templates_and_a_dry_run_changes_nothing(inventree, workdir):
    ours = inventree.control("seed", {"parts": [{"name": "PowerBank", "ipn": "PBF-B"}]})
    ours = ours["parts"]["PowerBank"]
    before = keys(inventree)
    cfg = config(workdir, inventree.base_url,
                 f'[sync.products."{PRODUCT}"]\noptional = ["pulse timing/gap"]\n')

    code, out = setup(cfg, dry_run=True)
    assert code == 0, out
    assert keys(inventree) == before
    assert out.count("would create") == len(EXPECTED) + 1  # + the summary line
    assert "fixturecheck" not in out and "poweroff" not in out  # judge nothing about the board

    code, out = setup(cfg, dry_run=False)
    assert code == 0, out
    made = [t for t in inventree.control("templates") if t["part"] == ours]
    assert sorted(t["key"] for t in made) == sorted(EXPECTED)
    by_key = {t["key"]: t for t in made}
    assert by_key["pulsetiminggap"]["required"] is False
    assert by_key["pulsetimingduty"]["required"] is True
    assert by_key["pulsetimingduty"]["test_name"] == "pulse timing: duty"
    assert by_key["pulsetimingduty"]["description"]

    code, out = setup(cfg, dry_run=False)  # again: everything is found, nothing made twice
    assert code == 0 and out.count("  ok ") == len(EXPECTED)
    assert len(keys(inventree)) == len(before) + len(EXPECTED)


def test_setup_refuses_templates_that_would_reject_results(inventree, workdir):
    inventree.control("seed", {"parts": [{"name": "PowerBank", "ipn": "PBF-B", "templates": [
        {"name": "pulse timing: duty", "choices": "ok,bad"},
        {"name": "pulse timing: gap", "requires_attachment": True},
        {"name": "Pibench run", "choices": "PASS,PASS-MARGINAL,FAIL"}]}]})
    code, out = setup(config(workdir, inventree.base_url), dry_run=False)
    assert code == 1
    assert "REFUSED  pulsetimingduty" in out and "has choices 'ok,bad'" in out
    assert "REFUSED  pulsetiminggap" in out and "requires an attachment" in out
    assert "ok       pibenchrun" in out  # choices that match the run's outcomes are fine
    assert "2 problem(s)" in out


def test_setup_says_what_it_cannot_do(inventree, workdir):
    code, out = setup(config(workdir, inventree.base_url), dry_run=True)  # no such part
    assert code == 1 and "no InvenTree part with IPN 'PBF-B'" in out
    assert TOKEN not in out


def test_setup_names_configured_steps_the_plan_does_not_have(inventree, workdir):
    inventree.control("seed", {"parts": [{"name": "PowerBank", "ipn": "PBF-B"}]})
    cfg = config(workdir, inventree.base_url,
                 f'[sync.products."{PRODUCT}"]\nskip = ["pulse timing/dutty"]\n')
    code, out = setup(cfg, dry_run=True)
    assert code == 1
    assert "'pulse timing/dutty' in [sync.products." in out and "not a step" in out
