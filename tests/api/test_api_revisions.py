"""A product with plans for two revisions: the operator says which board is on the bench, the
station never guesses (a board judged against the wrong plan is the bug after a lost result)."""

from __future__ import annotations

from api_support import STEPS_DIR, check, running_api


def _with_revision_b(tmp):
    plans = tmp / "plans"
    plans.mkdir(parents=True)
    text = (STEPS_DIR / "gated-board.toml.in").read_text().replace("@GATE@", str(tmp / "gate"))
    (plans / "gated-board-revB.toml").write_text(
        text.replace('revision = "A"', 'revision = "B"')
            .replace('name = "Gated-Board hold"', 'name = "Gated-Board hold, rev B"'))


def test_a_start_names_the_revision_when_the_product_has_several(tmp_path):
    _with_revision_b(tmp_path)
    with running_api(tmp_path) as api:
        status, products = api.client.get("/products")
        assert sorted(p["revision"] for p in products["products"]
                      if p["product"] == "Gated-Board") == ["A", "B"]

        status, refused = api.client.post("/runs", {"product": "Gated-Board",
                                                    "serial": "GTB-0001"})
        assert status == 422 and refused["error"] == "revision_required"
        assert "A, B" in refused["message"] or "B, A" in refused["message"]
        status, unknown = api.client.post("/runs", {"product": "Gated-Board", "revision": "C",
                                                    "serial": "GTB-0001"})
        assert status == 404 and unknown["error"] == "unknown_product"
        assert api.client.get("/runs/current")[1]["state"] == "idle"  # nothing was started

        api.open_gate()
        status, started = api.client.post("/runs", {"product": "Gated-Board", "revision": "B",
                                                    "serial": "GTB-0001"})
        assert status == 202 and started["revision"] == "B"
        check(started, "Started")
        record = api.service.wait_run(30)
        assert record is not None and record.meta.revision == "B"
        assert record.meta.plan_name == "Gated-Board hold, rev B"
        current = api.client.get("/runs/current")[1]
        assert (current["product"], current["revision"]) == ("Gated-Board", "B")
        check(current, "Current")

        # The next scan of that product keeps the revision chosen, as the product.
        status, scan = api.client.post("/scans", {"serial": "GTB-0002"})
        assert status == 200 and scan["valid"] is True and scan["product"] == "Gated-Board"
        status, scan = api.client.post("/scans", {"serial": "GTB-0003", "product": "Gated-Board",
                                                  "revision": "A"})
        assert status == 200 and scan["valid"] is True
        assert api.client.get("/runs/current")[1]["revision"] == "A"


def test_a_product_with_one_plan_needs_no_revision_and_accepts_its_own(api):
    api.open_gate()
    status, started = api.client.post("/runs", {"product": "Gated-Board", "serial": "GTB-0004"})
    assert status == 202 and started["revision"] is None
    assert api.service.wait_run(30).meta.revision == "A"
    status, again = api.client.post("/runs", {"product": "Gated-Board", "revision": "A",
                                              "serial": "GTB-0005"})
    assert status == 202 and again["revision"] == "A"
    assert api.service.wait_run(30).meta.revision == "A"
