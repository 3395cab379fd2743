"""Settings precedence: defaults < config file < legacy env < DAQHUB_ env < CLI flags."""

from __future__ import annotations

from pathlib import Path

import pytest

from daqhub.settings import Settings, export_for_workers, load_settings


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "daqhub.toml"
    path.write_text(
        'log_level = "DEBUG"\nlisten = ["0.0.0.0:9000"]\n'
        "[connectivity]\nentry_ttl = 3\nmax_partitions = 50\n"
        '[events]\nredis_prefix = "from-file"\n'
    )
    return path


def test_defaults(tmp_path: Path) -> None:
    settings = load_settings(overrides={"data_dir": tmp_path})
    assert settings.connectivity.entry_ttl == 10
    assert settings.listen == ["127.0.0.1:8000"]
    assert settings.effective_database_url == f"sqlite:///{tmp_path / 'daqhub.db'}"
    assert settings.event_backend == "memory"


def test_file_over_defaults(config_file: Path) -> None:
    settings = load_settings(config_file)
    assert settings.connectivity.entry_ttl == 3
    assert settings.connectivity.max_partitions == 50
    assert settings.listen == ["0.0.0.0:9000"]
    assert settings.connectivity.match_mode == "fullmatch"  # untouched keys keep defaults


def test_env_over_file_and_cli_over_env(config_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DAQHUB_CONNECTIVITY__ENTRY_TTL", "4")
    monkeypatch.setenv("DAQHUB_LISTEN", '["127.0.0.1:1", "127.0.0.1:2=connectivity"]')
    monkeypatch.setenv("DAQHUB_EVENTS__REDIS_PREFIX", "from-env")
    settings = load_settings(config_file)
    assert settings.connectivity.entry_ttl == 4
    assert settings.listen == ["127.0.0.1:1", "127.0.0.1:2=connectivity"]
    assert settings.connectivity.max_partitions == 50  # still from the file
    cli = load_settings(config_file, {"connectivity": {"entry_ttl": 5}, "listen": None})
    assert cli.connectivity.entry_ttl == 5
    assert cli.listen == ["127.0.0.1:1", "127.0.0.1:2=connectivity"]  # None means "not given"
    assert cli.events.redis_prefix == "from-env"


def test_config_file_from_environment(config_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DAQHUB_CONFIG", str(config_file))
    assert load_settings().connectivity.entry_ttl == 3


def test_legacy_variables_are_aliases_below_daqhub_names(
    config_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ENTRY_TTL", "2.5")
    monkeypatch.setenv("CONNECTION_FLASK_DEBUG", "yes")
    monkeypatch.setenv("REDIS_URL", "redis://legacy:6379/0")
    settings = load_settings(config_file)
    assert settings.connectivity.entry_ttl == 2.5  # legacy env beats the file
    assert settings.connectivity.debug_level == 1  # a non-integer means INFO
    assert settings.redis_url == "redis://legacy:6379/0"
    assert settings.event_backend == "redis"
    monkeypatch.setenv("DAQHUB_REDIS_URL", "redis://new:6379/0")
    monkeypatch.setenv("DAQHUB_CONNECTIVITY__ENTRY_TTL", "8")
    settings = load_settings(config_file)
    assert settings.redis_url == "redis://new:6379/0"
    assert settings.connectivity.entry_ttl == 8


def test_unknown_keys_are_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("no_such_setting = 1\n")
    with pytest.raises(ValueError, match="no_such_setting"):
        load_settings(bad)


def test_workers_receive_the_resolved_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    parent = Settings(data_dir=tmp_path, connectivity={"entry_ttl": 7}, secret_key="s3cret")
    exported = export_for_workers(parent)
    assert "s3cret" not in exported
    monkeypatch.setenv("DAQHUB_RESOLVED_SETTINGS", exported)
    monkeypatch.setenv("DAQHUB_SECRET_KEY", "s3cret")
    monkeypatch.setenv("DAQHUB_CONNECTIVITY__ENTRY_TTL", "99")  # ignored: the parent resolved it
    worker = load_settings()
    assert worker.connectivity.entry_ttl == 7
    assert worker.data_dir == tmp_path
    assert worker.secret_key is not None and worker.secret_key.get_secret_value() == "s3cret"
