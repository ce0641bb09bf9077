"""The station's refusals reach the operator in their language: the HMI translates the stable
``code`` the API sends with every refusal and keeps the station's own sentence as detail."""

from __future__ import annotations

import pytest
from hmi_support import make_app, screen_text, type_scan, wait_for, wait_ready, wait_text

from hmi.client import StationClient, StationRefused
from hmi.i18n import REFUSALS, refusal_text


@pytest.mark.asyncio
@pytest.mark.slow
async def test_refusals_are_shown_in_french_with_the_stations_sentence(station):
    app = make_app(station.url, lang="fr")
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_ready(pilot)
        app.choose_product("Nope")  # a product this station does not know: 404 on the scan
        await type_scan(pilot, "PBF-000001")
        await wait_text(pilot, "LECTURE REFUSÉE")
        await wait_text(pilot, "Produit inconnu de ce banc")
        assert "Nope" in screen_text(app)  # the station's sentence, as detail
        app.command_error = ""
        app._send_start("Nope", "PBF-000001", "req-1")  # what START sends
        await wait_for(pilot, lambda: app.command_error.startswith("Produit inconnu de ce banc"),
                       "the start refusal in French")
    client = StationClient(station.url)
    try:
        with pytest.raises(StationRefused) as refused:
            await client.start("Nope", "PBF-000001")
        assert refused.value.code == "unknown_product"
        texts = refused.value.texts()
        assert texts["en"].startswith("This station does not know the product (")
        assert texts["fr"].startswith("Produit inconnu de ce banc (")
        with pytest.raises(StationRefused) as refused:
            await client.start("PowerBank-Foolish", "PBF-1")  # a serial rejection
        assert refused.value.code == "serial_rejected"
        assert refused.value.texts()["fr"].startswith("Numéro de série PowerBank-Foolish trop")
    finally:
        await client.aclose()


def test_refusal_texts():
    assert set(REFUSALS) >= {"run_in_progress", "station_cannot_start", "start_timeout",
                             "fixture_fault", "plan_unusable", "store_failed"}
    for entry in REFUSALS.values():
        assert entry["fr"] and entry["en"] and entry["fr"] != entry["en"]
    detail = {"en": "the plan cannot be used: bad TOML at line 3"}
    assert refusal_text("plan_unusable", detail, "fr") == (
        "Le plan de test de ce produit est inutilisable : appelez le responsable "
        "(the plan cannot be used: bad TOML at line 3)")
    # A code this HMI does not know yet: the station's sentence as it came.
    assert refusal_text("new_code", {"en": "something new"}, "fr") == "something new"
    # The station's own words in each language (serial rejections) are kept as they are.
    both = {"fr": "Numéro trop court", "en": "Serial too short"}
    assert refusal_text("serial_rejected", both, "fr") == "Numéro trop court"
    assert refusal_text("serial_rejected", both, "en") == "Serial too short"
