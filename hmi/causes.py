"""Why a run ended ERROR (or ABORTED), in the operator's words.

The station stores a run's cause as the engine's English sentence (``error`` of the run and of
each step attempt, ``pibench.run/1``); the record has no code for it, and adding one would change
the document the inventory receives byte for byte. The sentences are the station's own and
stable in their first words (the engine writes ``<ExceptionClass>: message`` for a hardware
error or a crash, and fixed openings for the rest), so the screen maps them to a stable cause
code here, each with what happened and what to do, in French and English. The station's
sentence stays on screen, small, below: nothing it said is lost, and a cause this table does not
know is shown as ``station_error`` ("call the person in charge") with that sentence.

ERROR means the station is at fault, never the board: every text says not to set the board
aside as bad.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# (code, pattern) in order: the first that matches the root cause's sentence wins. The
# patterns are the openings the station writes (edge.fixtures.runtime, edge.engine, drivers).
_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (code, re.compile(pattern, re.IGNORECASE)) for code, pattern in (
        ("wrong_fixture", r"wrong fixture|is not the fixture's"),
        ("fixture_absent", r"fixture expander|fixture identity straps|fixture '[^']*' "
                           r"(cannot be checked|is closed)"),
        ("gpio_unavailable", r"GPIO unavailable|PiGPIOUnavailableError"),
        ("store_failed", r"result store failed|result database|database is locked|"
                         r"OperationalError|disk (is )?full|No space left"),
        ("step_timeout", r"exceeded its .* time budget"),
        ("hardware", r"^(\w*I2C\w*Error|OSError|TimeoutError|ConnectionError|"
                     r"\w*Expander\w*Error)\b|\[Errno \d+\]"),
        ("plan_mismatch", r"which the plan does not|finished without measuring|returned a bare "
                          r"value|give within_s|needs a high limit|relay '[^']*' is off"),
        ("step_crashed", r"^\w+(Error|Exception)\b|crashed|run interrupted"),
    ))

# What happened, then what to do. "Retest the same board" only where the technician can fix
# the cause at the bench; everything else goes to the person in charge of the station.
CAUSES: dict[str, dict[str, tuple[str, str]]] = {
    "fixture_absent": {
        "fr": ("Le gabarit ne répond pas (fermé ? câble débranché ?)",
               "Fermez le gabarit et vérifiez son câble, puis retestez la même carte."),
        "en": ("The fixture does not answer (not closed? cable unplugged?)",
               "Close the fixture and check its cable, then test the same board again."),
    },
    "wrong_fixture": {
        "fr": ("Ce n'est pas le gabarit de ce produit",
               "Montez le gabarit de ce produit, puis retestez la même carte."),
        "en": ("This is not this product's fixture",
               "Fit this product's fixture, then test the same board again."),
    },
    "gpio_unavailable": {
        "fr": ("Les broches GPIO du banc sont indisponibles",
               "Appelez le responsable du banc."),
        "en": ("The station's GPIO pins are unavailable",
               "Call the person in charge of the station."),
    },
    "store_failed": {
        "fr": ("Le banc n'a pas pu enregistrer les résultats (base de données occupée ou "
               "disque plein)",
               "Appelez le responsable du banc avant de tester d'autres cartes."),
        "en": ("The station could not store the results (database busy or disk full)",
               "Call the person in charge of the station before testing more boards."),
    },
    "step_timeout": {
        "fr": ("Une étape a dépassé son temps",
               "Retestez la même carte ; si cela se répète, appelez le responsable du banc."),
        "en": ("A step ran out of time",
               "Test the same board again; if it happens again, call the person in charge."),
    },
    "hardware": {
        "fr": ("Défaut de liaison avec le matériel du banc (bus I2C, câbles)",
               "Vérifiez les câbles du gabarit, puis retestez la même carte ; si cela se "
               "répète, appelez le responsable du banc."),
        "en": ("The station lost contact with its hardware (I2C bus, cables)",
               "Check the fixture cables, then test the same board again; if it happens "
               "again, call the person in charge."),
    },
    "plan_mismatch": {
        "fr": ("Le plan de test de ce produit est en défaut",
               "Appelez le responsable du banc : ce produit ne peut pas être testé tel quel."),
        "en": ("This product's test plan is faulty",
               "Call the person in charge: this product cannot be tested as it is."),
    },
    "step_crashed": {
        "fr": ("Le programme d'une étape s'est arrêté sur une erreur",
               "Appelez le responsable du banc."),
        "en": ("A step's program stopped on an error",
               "Call the person in charge of the station."),
    },
    "station_error": {
        "fr": ("Défaut du banc", "Appelez le responsable du banc."),
        "en": ("Station fault", "Call the person in charge of the station."),
    },
}


# Why a run was ABORTED: what happened only (the verdict's own line says to retest the board).
_ABORT_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (code, re.compile(pattern, re.IGNORECASE)) for code, pattern in (
        ("store_failed", r"result database|result store failed"),
        ("station_stopped", r"told to stop|station stopped during the run|run interrupted|"
                            r"^interrupted"),
    ))
ABORTED: dict[str, dict[str, tuple[str, str]]] = {
    "operator_abort": {"fr": ("Arrêté à la demande de l'opérateur", ""),
                       "en": ("Stopped at the operator's request", "")},
    "station_stopped": {"fr": ("Le banc s'est arrêté pendant le test (arrêt demandé, coupure "
                               "de courant ou plantage)", ""),
                        "en": ("The station stopped during the test (stop requested, power "
                               "cut or crash)", "")},
    "store_failed": {"fr": ("Le banc n'a pas pu enregistrer les résultats (base de données "
                            "occupée ou disque plein)",
                            "Appelez le responsable du banc avant de tester d'autres cartes."),
                     "en": ("The station could not store the results (database busy or disk "
                            "full)",
                            "Call the person in charge of the station before testing more "
                            "boards.")},
}


@dataclass(frozen=True, slots=True)
class Cause:
    code: str
    detail: str  # the station's own sentence (English), shown small below
    aborted: bool = False  # an ABORTED run's cause (ABORTED), else an ERROR's (CAUSES)

    def _entry(self, lang: str) -> tuple[str, str]:
        entry = (ABORTED if self.aborted else CAUSES)[self.code]
        return entry.get(lang, entry["en"])

    def what(self, lang: str) -> str:
        return self._entry(lang)[0]

    def todo(self, lang: str) -> str:
        """What to do beyond the verdict's own line ("" when that line says it all)."""
        return self._entry(lang)[1]


def cause_code(sentence: str) -> str:
    for code, pattern in _PATTERNS:
        if pattern.search(sentence):
            return code
    return "station_error"


def error_cause(run_error: str | None, step_errors: list[str]) -> Cause:
    """The cause of an ERROR run: the first step that ended ERROR is the root (the run's own
    sentence repeats it after "critical step '…' ERROR:"); a run-level note (the store, a
    teardown step, a crash between steps) when no step says more."""
    sentence = next((e for e in step_errors if e), None) or run_error or ""
    return Cause(cause_code(sentence), sentence)


def aborted_cause(run_error: str | None, step_errors: list[str]) -> Cause:
    """Why an ABORTED run stopped: the run's own sentence first (it names the abort's reason)."""
    sentence = run_error or next((e for e in step_errors if e), None) or ""
    code = next((c for c, pattern in _ABORT_PATTERNS if pattern.search(sentence)),
                "operator_abort")
    return Cause(code, sentence, aborted=True)
