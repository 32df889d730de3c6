"""`ticketflow train --file` then `ticketflow eval --json`, end to end on a tiny encoder."""

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from tests.conftest import SetEnv
from ticketflow.cli import app
from worker.engine.classifier.artifacts import latest_version

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
            "--sam-rho",
            "0.05",
        ],
    )
    assert trained.exit_code == 0, trained.output
    version = latest_version(heads_dir)
    assert version is not None and version in trained.output
    meta = json.loads((heads_dir / version / "meta.json").read_text())
    assert meta["config"]["sam_rho"] == 0.05 and meta["config"]["epochs"] == 3

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


def one_error_line(result: Result, *fragments: str) -> None:
    """Exit 2 and an ``error:`` line last, with no traceback."""
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    last = result.output.strip().splitlines()[-1]
    assert last.startswith("error: "), result.output
    for fragment in fragments:
        assert fragment in last, last


def train_args(*extra: str) -> list[str]:
    return ["train", "--epochs", "1", "--max-length", "16", "--frozen", *extra]


def test_max_length_past_the_encoders_positions_is_refused(heads_dir: Path) -> None:
    result = CliRunner().invoke(
        app, ["train", "--file", str(FIXTURE), "--epochs", "1", "--max-length", "1024"]
    )
    one_error_line(result, "max length 1024", "(512 tokens)", "--max-length 512")
    assert latest_version(heads_dir) is None


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--lr", "nan"], "--lr must be a positive number, not nan"),
        (["--lr", "0"], "--lr must be a positive number"),
    ],
)
def test_bad_numbers_are_refused(heads_dir: Path, args: list[str], message: str) -> None:
    one_error_line(CliRunner().invoke(app, train_args("--file", str(FIXTURE), *args)), message)


def test_a_directory_for_a_file_is_refused(heads_dir: Path, tmp_path: Path) -> None:
    for cmd in (train_args("--file", str(tmp_path)), ["eval", "--file", str(tmp_path)]):
        one_error_line(CliRunner().invoke(app, cmd), "is not a file")


def test_train_reports_the_rows_it_skipped(heads_dir: Path, tmp_path: Path) -> None:
    data = tmp_path / "holes.csv"
    data.write_text(FIXTURE.read_text() + ",card_arrival\nno label here,\n   ,\n")
    result = CliRunner().invoke(app, train_args("--file", str(data), "--calib-fraction", "0"))
    assert result.exit_code == 0, result.output
    assert "3 row(s) skipped: 2 without text, 1 without a label" in result.output
    version = latest_version(heads_dir)
    assert version is not None
    meta = json.loads((heads_dir / version / "meta.json").read_text())
    assert meta["skipped_rows"] == {"without text": 2, "without a label": 1}


def test_eval_with_nothing_to_score_fails(heads_dir: Path, tmp_path: Path) -> None:
    data = tmp_path / "notext.csv"
    data.write_text("text,category\n,a\n  ,b\nno label,\n")
    result = CliRunner().invoke(app, ["eval", "--file", str(data), "--json"])
    one_error_line(result, "no row has both text and a label")
    assert "3 row(s) skipped: 2 without text, 1 without a label" in result.output


def test_eval_warns_of_zero_shot_and_of_labels_never_seen(heads_dir: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    zero = runner.invoke(app, ["eval", "--file", str(FIXTURE), "--json"])
    assert zero.exit_code == 0, zero.output
    warnings = json.loads(zero.stdout)["warnings"]
    assert any("no trained classifier version" in w for w in warnings)
    assert any(
        w.startswith("category: 10 label(s) in the file the model has never") for w in warnings
    )

    assert runner.invoke(app, train_args("--file", str(FIXTURE))).exit_code == 0
    data = tmp_path / "unseen.csv"
    data.write_text(FIXTURE.read_text() + "where is my crypto,crypto\n")
    trained = runner.invoke(app, ["eval", "--file", str(data), "--json"])
    assert trained.exit_code == 0, trained.output
    report = json.loads(trained.stdout)
    assert report["skipped_rows"] == {"without text": 0, "without a label": 0}
    assert report["warnings"] == [
        "category: 1 label(s) in the file the model has never seen, on 1 example(s) that can "
        "only count as errors: crypto"
    ]
    assert "warning: category: 1 label(s)" in trained.stderr


def test_a_corrupt_version_is_named_not_a_traceback(heads_dir: Path) -> None:
    (heads_dir / "vbad").mkdir(parents=True)
    (heads_dir / "vbad" / "heads.pt").write_bytes(b"garbage!")
    (heads_dir / "vbad" / "meta.json").write_text("{}")
    (heads_dir / "LATEST").write_text("vbad")
    for cmd in (["eval", "--file", str(FIXTURE)], train_args("--file", str(FIXTURE))):
        one_error_line(
            CliRunner().invoke(app, cmd), "classifier version 'vbad'", "heads.pt is corrupt"
        )


def test_an_unwritable_classifier_dir_fails_before_training(
    heads_dir: Path, tmp_path: Path, settings_env: SetEnv
) -> None:
    (tmp_path / "a-file").write_text("")
    settings_env(classifier_dir=tmp_path / "a-file" / "heads")
    result = CliRunner().invoke(app, train_args("--file", str(FIXTURE)))
    one_error_line(result, "cannot write classifier versions to", "TICKETFLOW_CLASSIFIER_DIR")
    assert "epoch" not in result.output
