"""Acting through the API: validate, start, abort, scans, delivery. Every refusal is a
specific 4xx with a code and a sentence, never a 5xx."""

from __future__ import annotations

from api_support import check, running_api

from edge.store import open_store


def test_validate_serial_gives_the_consoles_reasons_in_french_and_english(api):
    status, ok = api.client.post("/serials/validate", {"product": "PowerBank-Foolish",
                                                       "serial": " PBF-000123\r\n"})
    assert status == 200 and ok["valid"] is True and ok["serial"] == "PBF-000123"
    check(ok, "Validation")
    status, other = api.client.post("/serials/validate", {"product": "PowerBank-Foolish",
                                                          "serial": "HIO-000003"})
    assert status == 200 and other["valid"] is False
    check(other, "Validation")
    assert other["reason"] == "wrong_product"
    assert "C'est un numéro de série HMI-IO-Board, pas PowerBank-Foolish" in \
        other["messages"]["fr"]
    assert "HMI-IO-Board" in other["messages"]["en"]
    status, layout = api.client.post("/serials/validate", {"product": "PowerBank-Foolish",
                                                           "serial": "PBF-àà&é\"'("})
    assert layout["reason"] == "keyboard_layout"
    status, err = api.client.post("/serials/validate", {"product": "Nope", "serial": "x"})
    assert status == 404 and err["error"] == "unknown_product"


def test_start_refuses_a_bad_serial_before_anything_is_powered(api):
    status, err = api.client.post("/runs", {"product": "PowerBank-Foolish",
                                            "serial": "PBF-12"})
    assert status == 422
    check(err, "SerialRejection")
    assert err["error"] == "serial_rejected" and err["reason"] == "too_short"
    assert err["messages"]["fr"].startswith("Numéro de série PowerBank-Foolish trop court")
    conn = open_store(api.config.database)
    assert conn.execute("SELECT count(*) FROM runs").fetchone()[0] == 0
    conn.close()


def test_second_start_is_409_and_the_same_request_id_is_not_a_second_run(api):
    api.close_gate()
    body = {"product": "Gated-Board", "serial": "GTB-0001", "request_id": "tap-1"}
    status, first = api.client.post("/runs", body)
    assert status == 202
    status, again = api.client.post("/runs", body)  # a retried request, a double tap
    assert status == 202 and again == first
    status, err = api.client.post("/runs", {"product": "Gated-Board", "serial": "GTB-0002"})
    assert status == 409 and err["error"] == "run_in_progress"
    assert first["run_id"] in err["message"]
    api.open_gate()
    assert api.service.wait_run(30).outcome.value == "PASS"
    conn = open_store(api.config.database)
    assert conn.execute("SELECT count(*) FROM runs").fetchone()[0] == 1
    conn.close()


def test_abort_stops_the_run_and_the_board_is_powered_off(api):
    api.close_gate()
    status, started = api.client.post("/runs", {"product": "Gated-Board", "serial": "GTB-0003"})
    assert status == 202
    status, doc = api.client.post("/runs/current/abort", {"reason": "wrong board on the bed"})
    assert status == 202 and doc["run_id"] == started["run_id"]
    check(doc, "Aborting")
    record = api.service.wait_run(30)
    assert record.outcome.value == "ABORTED"
    assert "wrong board on the bed" in (record.error or "")
    steps = {s.name: s.outcome.value for s in record.steps}
    assert steps["power off"] == "PASS"  # teardown ran
    status, err = api.client.post("/runs/current/abort", {})
    assert status == 409 and err["error"] == "no_run_in_progress"


def test_a_client_scan_is_checked_and_published(api):
    status, doc = api.client.post("/scans", {"serial": "HIO-000007"})
    assert status == 200
    check(doc, "ScanAnswer")
    # The serial says which product it is; start on scan is off, so nothing started.
    assert doc["valid"] and doc["product"] == "HMI-IO-Board" and doc["started"] is False
    status, bad = api.client.post("/scans", {"serial": "PBF-00", "product": "PowerBank-Foolish"})
    assert bad["valid"] is False and bad["reason"] == "too_short"
    assert api.service.current()["state"] == "idle"


def test_start_on_scan_starts_the_run_at_once(tmp_path):
    with running_api(tmp_path, {"start_on_scan": True}, start_on_scan=True) as api:
        api.open_gate()
        status, doc = api.client.post("/scans", {"serial": "PBF-000009"})
        assert status == 200 and doc["started"] is True and doc["run_id"]
        record = api.service.wait_run(30)
        assert record.meta.run_id == doc["run_id"] and record.meta.serial == "PBF-000009"


def test_delivery_actions(api):
    status, doc = api.client.post("/sync/retry-parked", {})
    assert status == 200 and doc == {"requeued": 0}
    status, err = api.client.post("/sync/deliver-now")
    assert status == 409 and err["error"] == "sync_off"
    status, err = api.client.post("/sync/retry-parked", {"run_id": "../../etc"})
    assert status == 422


def test_bodies_are_checked_field_by_field(api):
    cases = [
        ({"serial": "PBF-000001"}, 422, "missing_field"),
        ({"product": 3, "serial": "PBF-000001"}, 422, "bad_field"),
        ({"product": "PowerBank-Foolish", "serial": "x" * 201}, 422, "bad_field"),
        ({"product": "PowerBank-Foolish", "serial": "PBF-000001", "power": "on"}, 422,
         "unknown_field"),
        ({"product": "Nope", "serial": "PBF-000001"}, 404, "unknown_product"),
        ({"product": "PowerBank-Foolish", "serial": ""}, 422, "bad_field"),
        ({"product": "PowerBank-Foolish", "serial": "   "}, 422, "serial_rejected"),
    ]
    for body, status, code in cases:
        got, err = api.client.post("/runs", body)
        assert (got, err["error"]) == (status, code), body
        check(err, "Error")
    assert api.service.current()["state"] == "idle"


def test_every_refusal_carries_a_stable_code_and_a_start_failure_its_cause(api):
    """``code`` is what clients translate (the HMI's French texts are keyed by it); a start
    that fails says why in it (here: the product's plan became unusable), the station's
    sentence stays as the message."""
    status, err = api.client.post("/runs", {"product": "Nope", "serial": "x"})
    assert status == 404 and err["error"] == err["code"] == "unknown_product"
    check(err, "Error")
    status, err = api.client.post("/runs/current/abort", {})
    assert status == 409 and err["code"] == "no_run_in_progress"
    plan = api.config.plans_dirs[0] / "gated-board.toml"
    plan.write_text(plan.read_text() + "\n[[step]]\nthis is not toml = \n")
    status, err = api.client.post("/runs", {"product": "Gated-Board", "serial": "GTB-0009"})
    assert status == 503, err
    check(err, "Error")
    assert err["error"] == "station_cannot_start" and err["code"] == "plan_unusable"
    assert "plan" in err["message"]
    conn = open_store(api.config.database)
    assert conn.execute("SELECT count(*) FROM runs").fetchone()[0] == 0  # nothing started
    conn.close()
