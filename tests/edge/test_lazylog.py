"""edge/lazylog.py: loggers that import ``logging`` only when a record is really written, and
behave as logging's own in every case (issue 14: start-up).

What happens before ``logging`` is imported can only be seen in a fresh interpreter (pytest
imports it): those tests run a short script in a subprocess and read its stderr and a report
line. In this process, ``logging`` is imported: the stand-in must be the real logger at once."""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from edge import lazylog
from edge.sync.secrets import MASK

TOKEN = "inv-0123456789abcdef0123-20261205"  # (InvenTree's shape: also caught by the patterns)
PLAIN_SECRET = "s3cr3t-pl41n-v4lu3"  # caught only because it is a known secret
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"  # edge/cli.py's
STAMP = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}"


def fresh(script: str) -> tuple[dict, str]:
    """Runs ``script`` in a new interpreter; it reports with ``report(**facts)``, which adds
    whether ``logging`` was imported by then. Returns (the last report, stderr)."""
    prelude = (
        "import json, sys\n"
        "def report(**facts):\n"
        "    print('REPORT ' + json.dumps({'logging': 'logging' in sys.modules, **facts}),"
        " flush=True)\n"
    )
    proc = subprocess.run([sys.executable, "-c", prelude + script], capture_output=True,
                          text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    reports = [line for line in proc.stdout.splitlines() if line.startswith("REPORT ")]
    assert reports, proc.stdout
    return json.loads(reports[-1].removeprefix("REPORT ")), proc.stderr


def test_the_levels_are_loggings():
    for name in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
        assert getattr(lazylog, name) == getattr(logging, name)


def test_below_the_configured_level_nothing_imports_logging():
    facts, err = fresh(
        "from edge import lazylog\n"
        "log = lazylog.getLogger('edge.test')\n"
        "lazylog.configure(lazylog.WARNING, format='%(levelname)s %(name)s: %(message)s')\n"
        "from edge.sync.secrets import install_redaction\n"
        "install_redaction()\n"
        "log.debug('d %s', 1); log.info('i'); log.log(lazylog.INFO, 'l')\n"
        "report(enabled=[log.isEnabledFor(lv) for lv in (10, 20, 30, 40)],"
        " level=log.getEffectiveLevel(), kind=type(log).__name__)\n"
    )
    assert facts == {"logging": False, "enabled": [False, False, True, True], "level": 30,
                     "kind": "Logger"}
    assert err == ""


def test_without_any_configuration_it_is_loggings_default():
    """An unconfigured root lets WARNING through to lastResort (the bare message on stderr)."""
    facts, err = fresh(
        "from edge import lazylog\n"
        "log = lazylog.getLogger('edge.test')\n"
        "log.info('not shown')\n"
        "report(before=True)\n"
        "log.warning('shown %s', 'bare')\n"
        "import logging\n"
        "report(handlers=len(logging.getLogger().handlers))\n"
    )
    assert facts == {"logging": True, "handlers": 0}
    assert err == "shown bare\n"


def test_at_the_level_it_imports_logging_configured_and_names_the_caller():
    facts, err = fresh(
        "from edge import lazylog\n"
        "log = lazylog.getLogger('edge.test')\n"
        "lazylog.configure(lazylog.WARNING,"
        " format='%(levelname)s %(name)s %(filename)s:%(funcName)s:%(lineno)d: %(message)s')\n"
        "log.info('dropped')\n"
        "def caller():\n"
        "    log.warning('first %s', 'record')\n"
        "    log.error('second')\n"
        "caller()\n"
        "import logging\n"
        "root = logging.getLogger()\n"
        "report(root_level=root.level, handlers=len(root.handlers),"
        " same=log.warning == logging.getLogger('edge.test').warning)\n"
    )
    assert facts == {"logging": True, "root_level": 30, "handlers": 1, "same": True}
    lines = err.splitlines()
    assert lines == ["WARNING edge.test <string>:caller:9: first record",
                     "ERROR edge.test <string>:caller:10: second"], err


def test_exception_keeps_its_traceback():
    _, err = fresh(
        "from edge import lazylog\n"
        f"lazylog.configure(lazylog.WARNING, format={FORMAT!r})\n"
        "log = lazylog.getLogger('edge.test')\n"
        "try:\n"
        "    1 / 0\n"
        "except ZeroDivisionError:\n"
        "    log.exception('it failed: %d', 42)\n"
        "report()\n"
    )
    assert re.match(STAMP + r" ERROR edge\.test: it failed: 42\nTraceback \(most recent call "
                    r"last\):\n", err), err
    assert err.rstrip().endswith("ZeroDivisionError: division by zero"), err


def test_a_library_importing_logging_gets_it_configured_and_redacted():
    """Whoever imports logging first (here a plain ``import logging``, as requests or the run
    thread's executor do) finds the command line's configuration and the redaction in place,
    even after something merely looked for the module."""
    facts, err = fresh(
        "from edge import lazylog\n"
        "from edge.sync.secrets import REDACTOR, install_redaction\n"
        f"REDACTOR.add_secret({PLAIN_SECRET!r})\n"
        "lazylog.configure(lazylog.WARNING, format='%(levelname)s %(name)s: %(message)s')\n"
        "install_redaction()\n"
        "import importlib.util\n"
        "assert importlib.util.find_spec('logging') is not None\n"  # (asked, not imported)
        "report(before=True)\n"
        "import logging\n"
        f"logging.getLogger('inventree').error('headers: Authorization: Token %s', {TOKEN!r})\n"
        f"logging.getLogger('other').warning('said %s', {PLAIN_SECRET!r})\n"
        "report(inventree_level=logging.getLogger('inventree').level,"
        " loader=type(logging.__loader__).__name__)\n"
    )
    assert facts == {"logging": True, "inventree_level": 30, "loader": "SourceFileLoader"}
    inventree, other = err.splitlines()
    assert inventree.startswith("ERROR inventree: headers: Authorization: ") and MASK in inventree
    assert other == f"WARNING other: said {MASK}"
    assert TOKEN not in err, err


@pytest.mark.parametrize("logging_first", [False, True], ids=["stand-in-imports", "already"])
def test_a_secret_logged_through_a_stand_in_is_redacted(logging_first):
    facts, err = fresh(
        ("import logging\n" if logging_first else "")
        + "from edge import lazylog\n"
        "from edge.sync.secrets import REDACTOR, install_redaction\n"
        f"REDACTOR.add_secret({PLAIN_SECRET!r})\n"
        "log = lazylog.Logger('edge.test')\n"  # a stand-in either way (not getLogger)
        f"lazylog.configure(lazylog.WARNING, format={FORMAT!r})\n"
        "install_redaction()\n"
        f"log.warning('token %s and %s', {TOKEN!r}, {PLAIN_SECRET!r})\n"
        "try:\n"
        f"    raise RuntimeError('401 with Authorization: Bearer ' + {TOKEN!r})\n"
        "except RuntimeError:\n"
        "    log.exception('request failed')\n"
        "report()\n"
    )
    assert facts == {"logging": True}
    assert TOKEN not in err and PLAIN_SECRET not in err, err
    assert f"edge.test: token {MASK} and {MASK}" in err
    assert "request failed\nTraceback (most recent call last):" in err
    assert f"RuntimeError: 401 with Authorization: {MASK}" in err  # (the header's value)


def test_once_logging_is_imported_a_stand_in_is_the_real_logger():
    facts, _ = fresh(
        "from edge import lazylog\n"
        "early = lazylog.getLogger('edge.test')\n"
        "import io, logging\n"
        "late = lazylog.getLogger('edge.test')\n"
        "real = logging.getLogger('edge.test')\n"
        "stream = io.StringIO()\n"
        "real.addHandler(logging.StreamHandler(stream))\n"
        "real.setLevel(logging.DEBUG)\n"
        "early.debug('below WARNING, but this logger says DEBUG')\n"
        "report(late_is_real=late is real, early_kind=type(early).__name__,"
        " seen=stream.getvalue(), handlers=early.handlers == real.handlers)\n"
    )
    assert facts == {"logging": True, "late_is_real": True, "early_kind": "Logger",
                     "seen": "below WARNING, but this logger says DEBUG\n", "handlers": True}


def test_in_a_process_with_logging_it_is_logging(caplog):
    """Here (pytest imported logging): getLogger is logging's, and a stand-in made anyway hands
    every record to the real logger, caplog and its levels included, naming the caller."""
    assert lazylog.getLogger("edge.test.lazy") is logging.getLogger("edge.test.lazy")
    stand_in = lazylog.Logger("edge.test.lazy")
    caplog.set_level(logging.DEBUG, logger="edge.test.lazy")
    stand_in.debug("seen at %s", "DEBUG")
    stand_in.info("and again")
    first, second = caplog.records
    assert (first.levelno, first.name, first.getMessage()) == (10, "edge.test.lazy",
                                                               "seen at DEBUG")
    for record in (first, second):
        assert record.funcName == "test_in_a_process_with_logging_it_is_logging"
        assert Path(record.pathname) == Path(__file__)
    caplog.set_level(logging.ERROR, logger="edge.test.lazy")
    stand_in.warning("not at ERROR")
    assert len(caplog.records) == 2


def _run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PIBENCH_DATA_DIR": ""}
    return subprocess.run([sys.executable, "-m", "edge.cli", "--data-dir", str(tmp_path / "data"),
                           "--lang", "en", *args], capture_output=True, text=True, timeout=120,
                          check=False, env=env)


def test_a_real_run_logs_as_before(tmp_path):
    """`pibench -v run` writes DEBUG records (a traceback with them); without -v, the WARNING
    alone, same format. The simulated fixture's expander is absent: the first step's
    station error is logged at WARNING, its traceback at DEBUG."""
    run = ("run", "--product", "PowerBank-Foolish", "--sim-fault", "absent-expander")
    verbose = _run(tmp_path, "-v", *run, "--serial", "PBF-000001")
    plain = _run(tmp_path, *run, "--serial", "PBF-000002")
    warning = (STAMP + r" WARNING edge\.engine: step 'fixture check': fixture expander not found"
               r" at 0x21 on sim:powerbank-v1")
    debug = (STAMP + r" DEBUG edge\.engine: step 'fixture check': station error\n"
             r"Traceback \(most recent call last\):\n")
    assert re.search(warning, verbose.stderr) and re.search(debug, verbose.stderr), verbose.stderr
    assert re.search(warning, plain.stderr), plain.stderr
    assert " DEBUG " not in plain.stderr and " INFO " not in plain.stderr, plain.stderr
