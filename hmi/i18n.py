"""Every word the operator screen shows, in French (the workshop's language, the default) and
English. Keys are stable identifiers; the outcome words come from the station's own table so the
console, the HMI and the guide say the same thing. No Textual import: tests read it directly."""

from __future__ import annotations

from edge.i18n import LANGUAGES, pick_language
from edge.i18n import t as station_text

_TEXT: dict[str, dict[str, str]] = {
    # ready screen
    "station": {"fr": "Banc", "en": "Station"},
    "product": {"fr": "Produit", "en": "Product"},
    "choose_product": {"fr": "Choisissez le produit", "en": "Pick the product"},
    "choose_revision": {"fr": "Quelle révision de {product} ? Touchez-la",
                        "en": "Which revision of {product}? Tap it"},
    "product_from_scan": {"fr": "reconnu au numéro", "en": "recognised from the serial"},
    "scan_here": {"fr": "Scannez le numéro de série", "en": "Scan the serial number"},
    "serial": {"fr": "N° de série", "en": "Serial"},
    "start": {"fr": "DÉMARRER", "en": "START"},
    "start_on_scan": {"fr": "le test démarre au scan", "en": "the test starts on scan"},
    "press_start": {"fr": "Appuyez sur DÉMARRER", "en": "Press START"},
    "scan_refused": {"fr": "LECTURE REFUSÉE", "en": "SCAN REFUSED"},
    "scan_not_started": {"fr": "TEST NON DÉMARRÉ", "en": "TEST NOT STARTED"},
    "nothing_powered": {"fr": "Rien n'a été mis sous tension.",
                        "en": "Nothing was powered."},
    "starting": {"fr": "Démarrage…", "en": "Starting…"},
    "start_refused": {"fr": "Démarrage refusé", "en": "Start refused"},
    "run_in_progress": {"fr": "Un test est en cours : scan ignoré",
                        "en": "A test is running: scan ignored"},
    "scan_not_sent": {"fr": "Banc injoignable : scan non transmis, rescannez quand il revient",
                      "en": "Station unreachable: scan not sent, scan again when it is back"},
    "scan_sending": {"fr": "envoi au banc…", "en": "sending to the station…"},
    "scan_slow": {"fr": "BANC LENT : scan en cours, patientez…",
                  "en": "STATION SLOW: scan in progress, please wait…"},
    "scan_wait": {"fr": "Le scan précédent est en cours : attendez la réponse du banc",
                  "en": "The previous scan is in progress: wait for the station's answer"},
    "scan_timed_out": {"fr": "Le banc n'a pas répondu au scan de {serial} : rescannez la carte",
                       "en": "The station did not answer the scan of {serial}: scan the board "
                             "again"},
    "start_slow": {"fr": "BANC LENT : démarrage en cours, patientez…",
                   "en": "STATION SLOW: starting, please wait…"},
    "start_timed_out": {"fr": "Le banc n'a pas répondu au démarrage. S'il a démarré, l'écran "
                              "le montrera ; sinon touchez DÉMARRER à nouveau (un seul test "
                              "sera lancé).",
                        "en": "The station did not answer the start. If it started, the "
                              "screen will show it; otherwise tap START again (only one test "
                              "will run)."},
    "start_not_sent": {"fr": "Banc injoignable : test non démarré",
                       "en": "Station unreachable: test not started"},
    "abort_slow": {"fr": "Arrêt demandé… BANC LENT, patientez", "en": "Abort requested… "
                   "STATION SLOW, please wait"},
    "abort_timed_out": {"fr": "Le banc n'a pas répondu à l'arrêt : si le test continue, "
                              "touchez ARRÊTER à nouveau",
                        "en": "The station did not answer the abort: if the test goes on, "
                              "tap ABORT again"},
    "abort_not_sent": {"fr": "Banc injoignable : arrêt non transmis",
                       "en": "Station unreachable: abort not sent"},
    "today": {"fr": "AUJOURD'HUI", "en": "TODAY"},
    "back": {"fr": "RETOUR", "en": "BACK"},
    "close": {"fr": "FERMER", "en": "CLOSE"},
    # running screen
    "elapsed": {"fr": "Durée", "en": "Elapsed"},
    "abort": {"fr": "ARRÊTER", "en": "ABORT"},
    "abort_question": {"fr": "Arrêter le test en cours ?\nLa carte sera mise hors tension et "
                             "l'essai enregistré comme INTERROMPU.",
                       "en": "Abort the running test?\nThe board will be powered off and the "
                             "run recorded as ABORTED."},
    "abort_yes": {"fr": "OUI, ARRÊTER", "en": "YES, ABORT"},
    "abort_no": {"fr": "NON, CONTINUER", "en": "NO, CONTINUE"},
    "aborting": {"fr": "Arrêt demandé…", "en": "Abort requested…"},
    "retest": {"fr": "nouvel essai", "en": "retest"},
    "attempt": {"fr": "essai", "en": "attempt"},
    "teardown": {"fr": "mise hors tension", "en": "power-off"},
    "step_pending": {"fr": "à venir", "en": "to do"},
    # verdict screen
    "next_board": {"fr": "Scannez la carte suivante", "en": "Scan the next board"},
    "todo_PASS": {"fr": "Carte bonne.", "en": "Good board."},
    "todo_PASS-MARGINAL": {"fr": "Carte bonne, mais une valeur est proche d'une limite : "
                                 "signalez-le si cela se répète.",
                           "en": "Good board, but a value is close to a limit: report it if "
                                 "it happens again."},
    "todo_FAIL": {"fr": "Carte mauvaise : mettez-la de côté pour réparation.",
                  "en": "Bad board: set it aside for repair."},
    "todo_ERROR": {"fr": "Le BANC est en défaut, pas la carte : elle n'a pas été jugée, ne "
                         "la mettez pas de côté comme mauvaise.",
                   "en": "The STATION is at fault, not the board: it was not judged, do not "
                         "set it aside as bad."},
    "todo_ABORTED": {"fr": "Essai interrompu : retestez la carte.",
                     "en": "Run stopped: test the board again."},
    "failed_measurements": {"fr": "Mesures hors limites", "en": "Out-of-limit measurements"},
    "verdict_of": {"fr": "Résultat de", "en": "Result of"},
    "verdict_link_down": {"fr": "BANC INJOIGNABLE : résultat enregistré, état actuel du banc "
                                "inconnu",
                          "en": "STATION UNREACHABLE: stored result, the station's current "
                                "state is unknown"},
    "wait_for_station": {"fr": "⚠ Banc injoignable : attendez son retour pour scanner",
                         "en": "⚠ Station unreachable: wait for it before scanning"},
    "run_state_unknown": {"fr": "Test de {serial} ({product}) : état inconnu — banc "
                                "injoignable",
                          "en": "Test of {serial} ({product}): state unknown — station "
                                "unreachable"},
    "finished_while_away": {"fr": "terminé pendant la coupure de liaison",
                            "en": "finished while the link was down"},
    # status line
    "link_ok": {"fr": "banc connecté", "en": "station connected"},
    "link_down": {"fr": "BANC INJOIGNABLE depuis {since} — nouvel essai…",
                  "en": "STATION UNREACHABLE since {since} — retrying…"},
    "link_connecting": {"fr": "connexion au banc…", "en": "connecting to the station…"},
    "link_resync": {"fr": "le banc a redémarré : état rechargé",
                    "en": "the station restarted: state reloaded"},
    "fixture": {"fr": "gabarit", "en": "fixture"},
    "fixture_ok": {"fr": "gabarit OK", "en": "fixture OK"},
    "fixture_missing": {"fr": "GABARIT ABSENT", "en": "NO FIXTURE"},
    "scanner_ok": {"fr": "lecteur OK", "en": "scanner OK"},
    "scanner_missing": {"fr": "LECTEUR DÉBRANCHÉ", "en": "SCANNER UNPLUGGED"},
    "scanner_none": {"fr": "douchette clavier", "en": "keyboard scanner"},
    "sync_delivered": {"fr": "inventaire à jour", "en": "inventory: delivered"},
    "sync_waiting": {"fr": "inventaire : {n} en attente", "en": "inventory: {n} waiting"},
    "sync_unreachable": {"fr": "INVENTAIRE INJOIGNABLE depuis {since}",
                         "en": "INVENTORY UNREACHABLE since {since}"},
    "sync_login": {"fr": "INVENTAIRE : CONNEXION EXPIRÉE", "en": "INVENTORY: LOGIN EXPIRED"},
    "sync_off": {"fr": "inventaire désactivé", "en": "inventory off"},
    "clock_unsynced": {"fr": "HORLOGE NON SYNCHRONISÉE", "en": "CLOCK NOT SYNCHRONISED"},
    "disk_low": {"fr": "DISQUE PRESQUE PLEIN", "en": "DISK LOW"},
    # today view
    "boards_today": {"fr": "Cartes testées", "en": "Boards tested"},
    "first_pass_yield": {"fr": "Bon du premier coup", "en": "First-pass yield"},
    "last_boards": {"fr": "Dernières cartes", "en": "Last boards"},
    "nothing_today": {"fr": "Aucune carte testée aujourd'hui.", "en": "No board tested today."},
    "time": {"fr": "Heure", "en": "Time"},
    "verdict": {"fr": "Verdict", "en": "Verdict"},
    "prev": {"fr": "◀ PRÉC.", "en": "◀ PREV"},
    "next": {"fr": "SUIV. ▶", "en": "NEXT ▶"},
    "run_detail": {"fr": "Détail de l'essai", "en": "Run detail"},
    "limits": {"fr": "limites", "en": "limits"},
    "marginal_band": {"fr": "zone limite", "en": "marginal band"},
    "plot_title": {"fr": "{name} (cartes du jour)", "en": "{name} (today's boards)"},
    "pin_map": {"fr": "Broches de l'extenseur", "en": "Expander pins"},
    "pulse_train": {"fr": "Train d'impulsions : bas {low}, haut {high} (limites en rouge)",
                    "en": "Pulse train: low {low}, high {high} (limits in red)"},
}


# The station's refusals by their stable ``code`` (docs/api.md): what the operator reads. The
# station's own sentence (English) follows as detail, so nothing it said is lost.
REFUSALS: dict[str, dict[str, str]] = {
    "run_in_progress": {"fr": "Un test est déjà en cours sur ce banc",
                        "en": "A test is already running on this station"},
    "no_run_in_progress": {"fr": "Aucun test en cours", "en": "No test is running"},
    "unknown_product": {"fr": "Produit inconnu de ce banc",
                        "en": "This station does not know the product"},
    "revision_required": {"fr": "Ce produit a plusieurs révisions : touchez celle de la carte",
                          "en": "This product has several revisions: tap the board's one"},
    "serial_rejected": {"fr": "Numéro de série refusé", "en": "Serial number refused"},
    "sync_off": {"fr": "L'envoi à l'inventaire n'est pas configuré",
                 "en": "Delivery to the inventory is not configured"},
    "station_cannot_start": {"fr": "Le banc n'a pas pu démarrer le test",
                             "en": "The station could not start the test"},
    "start_timeout": {"fr": "Le test n'a pas démarré à temps : rien n'a été mis sous tension",
                      "en": "The test did not start in time: nothing was powered"},
    "start_failed": {"fr": "Le banc n'a pas pu démarrer le test : appelez le responsable",
                     "en": "The station could not start the test: call the supervisor"},
    "fixture_fault": {"fr": "Montage absent ou muet : vérifiez le câble du montage",
                      "en": "Fixture missing or silent: check the fixture cable"},
    "fixture_busy": {"fr": "Le montage est occupé par un autre test",
                     "en": "The fixture is busy with another test"},
    "wrong_fixture": {"fr": "Ce n'est pas le montage de ce produit",
                      "en": "This is not this product's fixture"},
    "plan_unusable": {"fr": "Le plan de test de ce produit est inutilisable : "
                            "appelez le responsable",
                      "en": "This product's test plan cannot be used: call the supervisor"},
    "store_failed": {"fr": "Enregistrement impossible : test non démarré, appelez le "
                           "responsable",
                     "en": "Results cannot be stored: test not started, call the supervisor"},
    "station_stopping": {"fr": "Le banc s'arrête : réessayez quand il aura redémarré",
                         "en": "The station is stopping: try again once it has restarted"},
    "station_error": {"fr": "Défaut du banc : test non démarré",
                      "en": "Station fault: test not started"},
    "unauthorized": {"fr": "Jeton d'accès au banc absent ou faux",
                     "en": "Missing or wrong access token for the station"},
}


def refusal_text(code: str, reason: dict[str, str], lang: str) -> str:
    """A station refusal for the operator: the station's own words when it gave them in this
    language (a serial rejection), else the text for its ``code`` with the station's sentence
    as detail, else that sentence as it came."""
    if lang in reason and (any(key != "en" for key in reason) or code not in REFUSALS):
        return reason[lang]  # the station's words in this language (or uncoded)
    detail = reason.get("en") or next(iter(reason.values()), "")
    entry = REFUSALS.get(code)
    if entry is None:
        return detail
    text = entry.get(lang, entry["en"])
    return f"{text} ({detail})" if detail and detail != text else text


def t(key: str, lang: str, **fields: object) -> str:
    """The operator text for ``key``; outcome words (PASS, FAIL…) come from the station."""
    entry = _TEXT.get(key)
    if entry is None:
        return station_text(key, lang)
    text = entry.get(lang, entry["en"])
    return text.format(**fields) if fields else text


def text_keys() -> list[str]:
    return list(_TEXT)


__all__ = ["LANGUAGES", "REFUSALS", "pick_language", "refusal_text", "t", "text_keys"]
