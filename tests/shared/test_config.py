from pathlib import Path

import pytest

from shared.config import Settings, load_settings
from shared.errors import ConfigError
from shared.taxonomy import load_taxonomy


def test_defaults_are_sqlite_in_data_dir(tmp_path: Path) -> None:
    s = load_settings(data_dir=tmp_path)
    assert s.resolved_database_url == f"sqlite:///{(tmp_path / 'ticketflow.db').resolve()}"
    assert s.concurrency == 2 * s.batch_size


def test_invalid_env_value_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TICKETFLOW_BATCH_SIZE", "zero")
    with pytest.raises(ConfigError, match="TICKETFLOW_BATCH_SIZE"):
        load_settings()


def test_out_of_range_value_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TICKETFLOW_DEVICE", "tpu")
    with pytest.raises(ConfigError, match="TICKETFLOW_DEVICE"):
        load_settings()


def test_visibility_timeout_must_exceed_task_limit() -> None:
    with pytest.raises(ConfigError, match="VISIBILITY_TIMEOUT_S"):
        load_settings(task_time_limit_s=100, visibility_timeout_s=50)


def test_api_keys_are_split_and_trimmed() -> None:
    assert load_settings(api_keys=" a, b ,,c").api_key_set == {"a", "b", "c"}


def test_settings_read_from_env_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("TICKETFLOW_QUEUE=from-dotenv\n")
    assert Settings().queue == "from-dotenv"


def test_bad_taxonomy_file_is_a_config_error(tmp_path: Path) -> None:
    bad = tmp_path / "tax.json"
    bad.write_text('{"categories": {"only": "one"}}')
    with pytest.raises(ConfigError, match="TICKETFLOW_TAXONOMY_FILE"):
        load_taxonomy(bad)


def test_default_taxonomy_has_support_categories() -> None:
    tax = load_taxonomy()
    assert {"billing", "account_access", "shipping_delivery", "other"} <= set(tax.categories)
    assert tax.label_examples("sentiments", "negative")


def test_draft_time_limit_must_be_below_task_limit() -> None:
    with pytest.raises(ConfigError, match="DRAFT_MAX_SECONDS"):
        load_settings(task_time_limit_s=100, visibility_timeout_s=500, draft_max_seconds=100)
    ok = load_settings(task_time_limit_s=100, visibility_timeout_s=500, draft_max_seconds=99)
    assert ok.draft_seconds == 99
    assert load_settings(task_time_limit_s=10, visibility_timeout_s=500).draft_seconds == 5


def test_model_stall_limit_defaults_to_the_task_time_limit_and_must_exceed_drafting() -> None:
    assert load_settings(task_time_limit_s=100, visibility_timeout_s=200).stall_seconds == 100
    assert load_settings(model_stall_s=30, draft_max_seconds=20).stall_seconds == 30
    with pytest.raises(ConfigError, match=r"MODEL_STALL_S \(20\) must be above the draft"):
        load_settings(model_stall_s=20, draft_max_seconds=20)
    with pytest.raises(ConfigError, match="TICKETFLOW_MODEL_STALL_S"):
        load_settings(model_stall_s=200)  # default draft limit: half of 600 s


def test_every_setting_is_documented() -> None:
    from pathlib import Path

    from shared.config import ENV_PREFIX, Settings

    doc = (Path(__file__).resolve().parents[2] / "docs" / "configuration.md").read_text()
    missing = [n for n in Settings.model_fields if f"`{ENV_PREFIX}{n.upper()}`" not in doc]
    assert not missing, f"docs/configuration.md lacks {missing}"
