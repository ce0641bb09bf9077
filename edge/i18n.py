"""Operator-facing words in French and English. The workshop speaks French; developers and
logs use English. Keys are stable identifiers, so the HMI and the console share them."""

from __future__ import annotations

import os

LANGUAGES = ("fr", "en")

_TEXT: dict[str, dict[str, str]] = {
    "PASS": {"fr": "CONFORME", "en": "PASS"},
    "PASS-MARGINAL": {"fr": "CONFORME (limite)", "en": "PASS (marginal)"},
    "FAIL": {"fr": "NON CONFORME", "en": "FAIL"},
    "ERROR": {"fr": "ERREUR STATION", "en": "STATION ERROR"},
    "ABORTED": {"fr": "INTERROMPU", "en": "ABORTED"},
    "SKIPPED": {"fr": "non exécuté", "en": "skipped"},
    "RUNNING": {"fr": "en cours", "en": "running"},
    "scan_prompt": {"fr": "Scannez le numéro de série ({product}) — 'p' produit, 'q' quitter",
                    "en": "Scan the serial ({product}) — 'p' product, 'q' quit"},
    "product_prompt": {"fr": "Choisissez le produit", "en": "Pick the product"},
    "retest": {"fr": "nouvel essai de ce numéro", "en": "retest of this serial"},
    "recovered": {"fr": "essai interrompu retrouvé et marqué INTERROMPU",
                  "en": "interrupted run found and recorded as ABORTED"},
    "next_board": {"fr": "Carte suivante", "en": "Next board"},
    "rejected": {"fr": "Lecture refusée", "en": "Scan rejected"},
    "station_busy": {
        "fr": "cette station est déjà en service : PID {pid} depuis {since} ({command}, "
              "données dans {data_dir}); rien n'a été touché",
        "en": "this station is already running as PID {pid} since {since} ({command}, data in "
              "{data_dir}); nothing was touched"},
    "station_busy_unknown": {
        "fr": "cette station est déjà en service (un autre processus démarre sur {data_dir}); "
              "rien n'a été touché",
        "en": "this station is already running (another process is starting on {data_dir}); "
              "nothing was touched"},
    "stopping": {"fr": "arrêt demandé ({signal}) : l'essai en cours est interrompu, la carte "
                       "mise hors tension",
                 "en": "stop requested ({signal}): the run in progress is aborted and the board "
                       "powered off"},
    "stopping_idle": {"fr": "arrêt demandé ({signal}) : aucun essai en cours, rien n'est sous "
                            "tension",
                      "en": "stop requested ({signal}): no run in progress, nothing is powered"},
}


def pick_language(value: str | None = None) -> str:
    """'fr' or 'en' from an explicit value or the locale (LANG=fr_FR.UTF-8 → fr)."""
    raw = (value or os.environ.get("PIBENCH_LANG") or os.environ.get("LANG") or "fr").lower()
    return "en" if raw.startswith("en") else "fr"


def t(key: str, lang: str, **fields: str) -> str:
    entry = _TEXT.get(key)
    if entry is None:
        return key
    return entry.get(lang, entry["en"]).format(**fields)
