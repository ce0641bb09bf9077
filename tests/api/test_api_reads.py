"""Every read endpoint answers what the committed schema says, idle, during a run and after."""

from __future__ import annotations

import threading
import time

import pytest
from api_support import SCHEMA, check

from edge.api.server import SCHEMA_PATH


def test_the_schema_is_served_and_is_the_committed_file(api):
    status, doc = api.client.get("/openapi.json")
    assert status == 200 and doc == SCHEMA
    assert doc["openapi"].startswith("3.1")
    assert SCHEMA_PATH.name == "openapi.json"


def test_station_identity_and_version(api):
    status, doc = api.client.get("/station")
    assert status == 200
    check(doc, "Station")
    assert doc["station_id"] == "sim-station" and doc["hardware"] == "sim"
    assert doc["boot_id"] == api.service.boot_id


def test_products_carry_their_steps_and_limits(api):
    status, doc = api.client.get("/products")
    assert status == 200
    check(doc, "Products")
    by_name = {p["product"]: p for p in doc["products"]}
    assert {"PowerBank-Foolish", "HMI-IO-Board", "Gated-Board"} <= set(by_name)
    steps = {s["name"]: s for s in by_name["PowerBank-Foolish"]["steps"]}
    assert steps["power off"]["teardown"] is True
    period = {m["name"]: m for m in steps["pulse timing"]["measurements"]}["period"]["limits"]
    assert period["units"] == "s" and period["low"] < period["high"]
    assert period["marginal_low"] is not None


def test_health_reports_every_check(api):
    status, doc = api.client.get("/health")
    assert status == 200
    check(doc, "Health")
    fixtures = {f["fixture_id"]: f for f in doc["fixtures"]}
    assert fixtures["powerbank-v1"]["present"] is True
    assert fixtures["powerbank-v1"]["identified"] is True
    assert doc["database"]["writable"] is True
    assert doc["scanner"]["state"] == "none"  # keyboard-wedge only: no serial port configured
    assert isinstance(doc["clock_synced"], bool) and doc["gpio_available"] is True
    assert doc["disk"]["free_bytes"] > 0


def test_current_run_snapshot_idle_running_and_finished(api):
    status, idle = api.client.get("/runs/current")
    assert status == 200 and idle["state"] == "idle" and idle["run"] is None
    check(idle, "Current")
    api.close_gate()
    status, started = api.client.post("/runs", {"product": "Gated-Board", "serial": "GTB-0001",
                                                "operator": "amel", "batch": "B7"})
    assert status == 202
    check(started, "Started")
    status, running = api.client.get("/runs/current")
    assert running["state"] == "running" and running["last_run"] is None
    check(running, "Current")
    assert running["run"]["run_id"] == started["run_id"]
    names = [s["name"] for s in running["run"]["steps"]]
    assert names == ["fixture check", "power on", "hold", "power off"]
    assert running["run"]["meta"]["operator"] == "amel"
    api.open_gate()
    record = api.service.wait_run(30)
    assert record is not None and record.outcome.value == "PASS"
    status, done = api.client.get("/runs/current")
    check(done, "Current")
    assert done["state"] == "idle" and done["run"] is None
    assert done["last_run"]["run_id"] == started["run_id"]
    assert done["last_run"]["outcome"] == "PASS"
    assert done["seq"] > running["seq"]


def test_the_snapshot_of_a_run_shows_every_step_so_far_while_it_runs(api):
    # A run's progress events do not call the service back during the run (issue 14): a read
    # of the snapshot applies them first, so it is never behind the engine.
    api.close_gate()
    status, started = api.client.post("/runs", {"product": "Gated-Board", "serial": "GTB-0002"})
    assert status == 202
    deadline = time.monotonic() + 20
    while True:
        steps = api.client.get("/runs/current")[1]["run"]["steps"]
        if steps[2]["state"] == "running" or time.monotonic() > deadline:
            break
        threading.Event().wait(0.01)  # the run thread reaching the gate
    assert [(s["name"], s["state"], s["outcome"]) for s in steps] == [
        ("fixture check", "done", "PASS"), ("power on", "done", "PASS"),
        ("hold", "running", None), ("power off", "pending", None)]
    api.open_gate()
    record = api.service.wait_run(30)
    assert record is not None and record.outcome.value == "PASS"
    done = api.client.get("/runs/current")[1]["last_run"]
    assert done["run_id"] == started["run_id"]
    assert done["steps"][2]["attempts"][-1]["measurements"][0]["name"] == "held"


def test_one_run_with_every_step_and_measurement(api):
    api.open_gate()
    status, started = api.client.post("/runs", {"product": "PowerBank-Foolish",
                                                "serial": "PBF-000001"})
    assert status == 202
    api.service.wait_run(30)
    status, doc = api.client.get(f"/runs/{started['run_id']}")
    assert status == 200
    check(doc, "RunRecord")
    assert doc["schema"] == "pibench.run/1" and doc["outcome"] == "PASS"
    timing = next(s for s in doc["steps"] if s["name"] == "pulse timing")
    assert {m["name"] for m in timing["attempts"][-1]["measurements"]} == {
        "pulse_width", "gap", "period", "duty"}
    assert api.client.get("/runs/00000000-0000-0000-0000-000000000000")[0] == 404
    status, err = api.client.get("/runs/not%20a%20run")
    assert status == 404 and err["error"] == "unknown_run"


def _run(api, product, serial, *faults):
    status, doc = api.client.post("/runs", {"product": product, "serial": serial})
    assert status == 202, doc
    api.service.wait_run(30)
    return doc["run_id"]


def test_history_filters_and_pages(api):
    api.open_gate()
    ids = [_run(api, "PowerBank-Foolish", f"PBF-00000{n}") for n in range(1, 4)]
    _run(api, "HMI-IO-Board", "HIO-000001")
    status, page = api.client.get("/runs?limit=2")
    assert status == 200
    check(page, "History")
    assert len(page["runs"]) == 2 and page["next_offset"] == 2
    status, rest = api.client.get("/runs?limit=2&offset=2")
    assert len(rest["runs"]) == 2 and rest["next_offset"] is None
    assert {r["run_id"] for r in page["runs"] + rest["runs"]} >= set(ids)
    _, by_serial = api.client.get("/runs?serial=PBF-000002")
    assert [r["run_id"] for r in by_serial["runs"]] == [ids[1]]
    _, by_product = api.client.get("/runs?product=HMI-IO-Board")
    assert len(by_product["runs"]) == 1 and by_product["runs"][0]["step_count"] > 0
    day = page["runs"][0]["started_utc"][:10]
    _, by_day = api.client.get(f"/runs?day={day}&outcome=PASS")
    assert len(by_day["runs"]) == 4
    _, none = api.client.get("/runs?day=2001-01-01")
    assert none["runs"] == []
    _, failed = api.client.get("/runs?outcome=FAIL")
    assert failed["runs"] == []


@pytest.mark.parametrize("query", ["limit=0", "limit=501", "limit=x", "offset=-1",
                                   "day=2026-13-01", "day=yesterday", "outcome=GOOD",
                                   "serial=", "limit=1&limit=2"])
def test_history_refuses_bad_filters_with_400(api, query):
    status, err = api.client.get(f"/runs?{query}")
    assert status == 400 and err["error"] == "bad_query"
    check(err, "Error")


def test_yield_per_product_and_day(api):
    api.open_gate()
    _run(api, "PowerBank-Foolish", "PBF-000001")
    _run(api, "PowerBank-Foolish", "PBF-000001")  # a retest does not count twice
    status, doc = api.client.get("/yield")
    assert status == 200
    check(doc, "YieldDay")
    pbf = next(p for p in doc["products"] if p["product"] == "PowerBank-Foolish")
    assert pbf["runs"] == 2 and pbf["serials"] == 1 and pbf["first_pass_yield"] == 1.0
    _, other = api.client.get("/yield?day=2001-01-01&product=PowerBank-Foolish")
    assert other == {"day": "2001-01-01", "products": []}


def test_sync_status_when_sync_is_off_still_counts_waiting_results(api):
    api.open_gate()
    _run(api, "PowerBank-Foolish", "PBF-000001")
    api.service.refresh_sync()
    status, doc = api.client.get("/sync")
    assert status == 200
    check(doc, "SyncStatus")
    assert doc["enabled"] is False and doc["backend"] == "none" and doc["queue_depth"] == 1


def test_a_days_measurements_of_a_product_in_one_request(api):
    api.open_gate()
    ids = [_run(api, "PowerBank-Foolish", f"PBF-00001{n}") for n in range(3)]
    _run(api, "HMI-IO-Board", "HIO-000011")
    record = api.client.get(f"/runs/{ids[0]}")[1]
    day = (record.get("meta") or record)["started_utc"][:10]
    status, doc = api.client.get(f"/measurements?product=PowerBank-Foolish&day={day}"
                                 "&name=period")
    assert status == 200
    check(doc, "DayMeasurements")
    assert [m["run_id"] for m in doc["measurements"]] == ids  # oldest first, one each
    record = api.client.get(f"/runs/{ids[1]}")[1]
    stored = [m for s in record["steps"] for m in s["attempts"][-1]["measurements"]
              if m["name"] == "period"]
    got = doc["measurements"][1]
    assert {k: got[k] for k in stored[0]} == stored[0]  # the same as the run's own record
    assert got["serial"] == "PBF-000011" and got["run_outcome"] == record["outcome"]
    # every measurement of the day, paged
    _, everything = api.client.get(f"/measurements?product=PowerBank-Foolish&day={day}")
    per_run = len(everything["measurements"]) // 3
    assert per_run >= 2 and everything["product"] == "PowerBank-Foolish"
    assert {m["run_id"] for m in everything["measurements"]} == set(ids)
    _, first = api.client.get(f"/measurements?product=PowerBank-Foolish&day={day}&limit=2")
    _, second = api.client.get(f"/measurements?product=PowerBank-Foolish&day={day}&limit=2"
                               "&offset=2")
    assert first["next_offset"] == 2
    assert first["measurements"] + second["measurements"] == everything["measurements"][:4]
    _, none = api.client.get("/measurements?product=PowerBank-Foolish&day=2001-01-01")
    assert none["measurements"] == [] and none["next_offset"] is None
    status, err = api.client.get("/measurements?day=2001-01-01")
    assert status == 400 and err["code"] == "bad_query" and "product" in err["message"]
