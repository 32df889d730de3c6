"""`ticketflow train --file` then `ticketflow eval --json`, end to end on a tiny encoder."""

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.conftest import SetEnv
from ticketflow.cli import app
from worker.classifier.artifacts import latest_version

FIXTURE = Path(__file__).parents[1] / "fixtures" / "banking77_mini.csv"


@pytest.fixture
def heads_dir(tmp_path: Path, tiny_models: tuple[Path, Path], settings_env: SetEnv) -> Path:
    settings_env(data_dir=tmp_path, device="cpu", encoder_model=tiny_models[1])
    return tmp_path / "heads"


def test_train_then_eval_json(heads_dir: Path) -> None:
    runner = CliRunner()
    trained = runner.invoke(
        app,
        [
            "train",
            "--file",
            str(FIXTURE),
            "--field",
            "category=category",
            "--epochs",
            "3",
            "--max-length",
            "32",
        ],
    )
    assert trained.exit_code == 0, trained.output
    version = latest_version(heads_dir)
    assert version is not None and version in trained.output

    result = runner.invoke(app, ["eval", "--file", str(FIXTURE), "--json", "--top-confused", "3"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["version"] == version and report["examples"] == 100
    cat = report["fields"]["category"]
    assert cat["n"] == 100 and 0 <= cat["accuracy"] <= 1 and 0 <= cat["ece"] <= 1
    assert len(cat["per_class"]) >= 10 and len(cat["confused"]) <= 3
    assert {"label", "precision", "recall", "f1", "support"} <= set(cat["per_class"][0])

    table = runner.invoke(app, ["eval", "--file", str(FIXTURE)])
    assert table.exit_code == 0 and "macro-F1" in table.stdout and "per class" in table.stdout


def test_eval_of_an_unknown_version_fails_cleanly(heads_dir: Path) -> None:
    result = CliRunner().invoke(app, ["eval", "--file", str(FIXTURE), "--version", "v-nope"])
    assert result.exit_code == 2 and "no classifier version" in result.output
