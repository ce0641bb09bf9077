"""The InvenTree backend imports requests without its character-set guesser
(edge/sync/requests_lean.py), and still reads what InvenTree answers. Each case runs in a fresh
interpreter: what a process has imported is the point."""

from __future__ import annotations

import json
import subprocess
import sys

PROBE = """
import json, sys, warnings
warnings.simplefilter("error")  # requests' warning about a missing guesser must not escape
{before}
import edge.sync.backends.inventree
import requests

body = json.dumps({{"name": "Carte d'alimentation \u00e0 d\u00e9coupage"}}).encode("utf-8")
decoded = {{}}
for ctype in ("application/json", "application/octet-stream", None):
    r = requests.Response()
    r._content = body
    r.status_code = 200
    if ctype:
        r.headers["Content-Type"] = ctype
    decoded[str(ctype)] = [r.text, r.json()["name"]]
print(json.dumps({{
    "loaded": sorted(m for m in ("charset_normalizer", "chardet") if m in sys.modules),
    "stand_ins_left": sorted(m for m, v in sys.modules.items() if v is None),
    "decoded": decoded,
}}))
"""


def run(before: str = "") -> dict:
    out = subprocess.run([sys.executable, "-c", PROBE.format(before=before)],
                         capture_output=True, text=True, timeout=120, check=True)
    return json.loads(out.stdout.splitlines()[-1])


def test_the_backend_loads_no_charset_guesser_and_decodes_utf8_without_one():
    doc = run()
    assert doc["loaded"] == []
    assert doc["stand_ins_left"] == []  # the guessers stay importable by anything else
    expected = "Carte d'alimentation \u00e0 d\u00e9coupage"
    for ctype, (text, name) in doc["decoded"].items():
        assert name == expected, ctype
        assert json.loads(text)["name"] == expected, ctype


def test_requests_imported_earlier_is_left_as_it_is():
    doc = run("import requests")
    assert "charset_normalizer" in doc["loaded"]
    assert doc["decoded"]["application/json"][1] == "Carte d'alimentation \u00e0 d\u00e9coupage"
