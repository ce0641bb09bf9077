"""Station configuration: defaults that give a simulated station, and errors that name the
file and the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge.config import BUILTIN_PLANS, ConfigError, StationConfig, load_config

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "station.example.toml"


def test_no_file_is_a_simulated_station():
    config = load_config(None)
    assert config == StationConfig(data_dir=config.data_dir)
    assert config.simulated and config.database.name == "results.sqlite3"


def test_the_shipped_example_loads():
    config = load_config(EXAMPLE)
    assert config.station_id == "bench-1" and config.data_dir == Path("/var/lib/pibench")
    assert config.sync.backend == "none" and config.plans_dirs[-1] == BUILTIN_PLANS


def test_paths_are_relative_to_the_file(tmp_path):
    cfg = tmp_path / "station.toml"
    cfg.write_text("[station]\ndata_dir = 'data'\nplans_dirs = ['plans']\n"
                   "[sync]\nbackend = 'generic'\nurl = 'http://127.0.0.1:9/x'\n"
                   "token_file = 'tok'\nread_timeout_s = 5\n")
    config = load_config(cfg)
    assert config.data_dir == tmp_path / "data"
    assert config.plans_dirs == (tmp_path / "plans", BUILTIN_PLANS)
    assert config.sync.token_file == tmp_path / "tok"
    assert config.sync.options == {"read_timeout_s": 5}  # backend keys pass through


@pytest.mark.parametrize(("text", "words"), [
    ("[station\n", ":1: TOML syntax error"),
    ("[stations]\n", ":1: stations: unknown section 'stations'"),
    ("[station]\nhardwre = 'sim'\n", ":2: station.hardwre: unknown key 'hardwre'"),
    ("[station]\nhardware = 'simulated'\n", ":2: station.hardware: expected one of 'sim', 'real'"),
    ("[sync]\nbackend = 'erp'\n", ":2: sync.backend: expected one of 'none', 'inventree'"),
])
def test_errors_name_the_file_and_what_is_wrong(tmp_path, text, words):
    cfg = tmp_path / "station.toml"
    cfg.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_config(cfg)
    assert str(info.value).startswith(str(cfg)) and words in str(info.value)


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match=r"nope\.toml: file not found"):
        load_config(tmp_path / "nope.toml")
