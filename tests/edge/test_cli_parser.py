"""The command line builds only the sub-command it runs (issue 14: start-up), and parses and
refuses exactly as the whole parser does."""

from __future__ import annotations

import contextlib
import io

import pytest

from edge.cli import build_parser, command_named, parse_command_line

ACCEPTED = [
    ["run", "--product", "P", "--serial", "S1"],
    ["--data-dir", "/d", "--lang", "en", "run", "--product", "P", "--serial", "S", "-v"],
    ["--config=/c.toml", "-v", "run", "--product", "P", "--serial", "S", "--sim-pace", "2"],
    ["--lang", "fr", "station", "--no-console", "--product", "P", "--sim-fault", "x"],
    ["history", "--last", "5", "--data-dir", "/d"],
    ["export", "--format", "json", "-o", "out.json"],
    ["products"],
    ["hw", "scan", "--bus", "3"],
    ["hmi", "--web", "--port", "8080"],
]
REFUSED = [
    ["run", "--product", "P"],  # no serial
    ["history", "--last", "many"],
    ["hw"],
    ["run", "--product", "P", "--serial", "S", "--nope"],
]


def _parse(parser, argv):
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            return vars(parser.parse_args(argv)), None
        except SystemExit as exc:
            return None, (exc.code, err.getvalue())


@pytest.mark.parametrize("argv", ACCEPTED + REFUSED)
def test_the_one_sub_command_parser_parses_as_the_whole_one(argv):
    only = command_named(argv)
    assert only == next(a for a in argv if a in ("run", "station", "history", "export",
                                                  "products", "hw", "hmi"))
    whole = _parse(build_parser(), argv)
    assert _parse(_Line(), argv) == whole
    if whole[0] is not None:  # what it accepts, the one sub-command's parser parses alike
        assert _parse(build_parser(only), argv) == whole


class _Line:
    def parse_args(self, argv):
        return parse_command_line(argv)


@pytest.mark.parametrize("argv", [
    [], ["--help"], ["-h"], ["--data", "/d", "history"],  # an abbreviation: the whole parser
    ["--config", "run", "history"],  # the option's value is not the command
    ["sync", "now"], ["doctor"], ["--verbose=1", "run"], ["nonsense"],
])
def test_anything_else_gets_the_whole_parser(argv):
    expected = "history" if argv == ["--config", "run", "history"] else None
    assert command_named(argv) == expected


def test_the_whole_parser_still_lists_every_command():
    usage = build_parser().format_help()
    for name in ("station", "run", "products", "history", "export", "hw", "sync", "doctor",
                 "hmi"):
        assert name in usage
