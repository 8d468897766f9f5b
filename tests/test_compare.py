"""`mnist-exp-report compare RUN_A RUN_B [RUN ...]`: the config keys runs differ in,
their metrics with deltas, their curves in one figure. The run directories are
written here, file by file (no training), except in the one end-to-end test."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from mnist_exp.app.report import report
from mnist_exp.results import compare
from tests.helpers import cli_env, run_cli

CONFIG = {
    "data": {"name": "mnist_5k", "path": None, "limit_train": 2000},
    "model": {"name": "one_hidden", "units": [512], "dropout": 0.0},
    "optimizer": {"name": "rmsprop", "learning_rate": 0.001, "rho": 0.9},
    "training": {"epochs": 2, "batch_size": 128, "seed": 42, "progress": False},
    "logger": {"tensorboard": None, "mlflow": None},
    "callbacks": {},
    "optimized_metric": "val/accuracy",
    "resume": None,
}
DONE = {
    "status": "completed",
    "test/accuracy": 0.9,
    "test/loss": 0.3,
    "test/correct": 900,
    "test/incorrect": 100,
    "val/accuracy": 0.88,
    "val/loss": 0.35,
    "epochs": 2,
    "train/seconds": 4.0,
    "params": 407050,
}


def make_run(folder: Path, metrics: dict | None = DONE, epochs: int = 2, **config) -> Path:
    """A run directory as mnist-exp leaves it: `config` sets top-level keys or, with
    dotted names (given as optimizer__learning_rate), nested ones."""
    resolved = json.loads(json.dumps(CONFIG))
    for key, value in config.items():
        *parents, last = key.split("__")
        node = resolved
        for parent in parents:
            node = node[parent]
        node[last] = value
    (folder / ".hydra").mkdir(parents=True)
    (folder / ".hydra" / "config.yaml").write_text(yaml.safe_dump(resolved))
    (folder / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump(["+experiment=smoke"]))
    if metrics is not None:
        (folder / "metrics.json").write_text(json.dumps(metrics))
    rows = [f"{e},{1 / e},{0.8 + e / 100},{1.1 / e},{0.79 + e / 100},0.001,1.0" for e in (1, 2)]
    header = "epoch,train/loss,train/accuracy,val/loss,val/accuracy,lr,seconds"
    (folder / "history.csv").write_text("\n".join([header, *rows[:epochs]]) + "\n")
    return folder


def rows(lines: list[str]) -> dict[str, list[str]]:
    """A table's body rows (after its ─── rule) split on runs of two spaces or more."""
    body = lines[next(i for i, line in enumerate(lines) if line.startswith("─")) + 1 :]
    return {cells[0]: cells[1:] for cells in (re.split(r"\s{2,}", line.strip()) for line in body)}


@pytest.fixture(autouse=True)
def wide(monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")  # whatever the machine's terminal: rows on one line


def printed(capsys, *args) -> tuple[int, str, str]:
    code = report(["compare", *map(str, args)])
    out, err = capsys.readouterr()
    return code, out, err


def config_section(out: str) -> dict[str, list[str]]:
    return rows(out.split("\nmetrics: ")[0].splitlines())


def metrics_section(out: str) -> dict[str, list[str]]:
    return rows(out.split("\nmetrics: ")[1].splitlines())


def test_two_runs_that_differ_in_one_key_show_that_key_alone_and_the_deltas(tmp_path, capsys):
    a = make_run(tmp_path / "a")
    better = {**DONE, "test/accuracy": 0.925, "test/loss": 0.25, "test/correct": 925}
    b = make_run(tmp_path / "b", {**better, "test/incorrect": 75}, optimizer__learning_rate=0.01)
    code, out, err = printed(capsys, a, b, "--no-write")
    assert (code, err) == (0, "")
    assert "config: 1 key differs" in out
    assert config_section(out) == {"optimizer.learning_rate": ["0.001", "0.01"]}
    table = metrics_section(out)
    assert table["status"] == ["completed", "completed"]
    assert table["test/accuracy"] == ["0.9000", "0.9250", "+0.0250 better"]
    assert table["test/loss"] == ["0.3000", "0.2500", "-0.0500 better"]
    assert table["test/incorrect"] == ["100", "75", "-25"]  # a count: no better side
    assert table["val/accuracy"] == ["0.8800", "0.8800", "+0.0000"]  # equal: no mark
    assert table["params"] == ["407050", "407050", "+0"]
    assert "wrote" not in out and not (tmp_path / "compare.png").exists()


def test_the_figure_is_a_png_in_the_current_directory_by_default(tmp_path, capsys, monkeypatch):
    a, b = make_run(tmp_path / "a"), make_run(tmp_path / "b", training__epochs=3)
    monkeypatch.chdir(tmp_path)
    code, out, _ = printed(capsys, a, b)
    assert code == 0
    assert out.splitlines()[-1] == "wrote compare.png"
    assert (tmp_path / "compare.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".compare")]  # atomic


def test_three_sweep_jobs_one_failed_one_incomplete(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("COLUMNS")  # as in a pipe: the tables are not wrapped at 80 columns
    sweep = tmp_path / "sweep"
    make_run(sweep / "0", model__dropout=0.2)
    failed = {"status": "failed", "reason": "nan_loss", "val/loss": None, "epochs": 1}
    make_run(sweep / "1", failed, epochs=1, model__dropout=0.5, logger__mlflow="mlflow")
    make_run(sweep / "2", None, model__dropout=0.5)  # killed before metrics.json
    figure = tmp_path / "plots" / "three.png"
    code, out, err = printed(capsys, sweep / "0", sweep / "1", sweep / "2", "--output", figure)
    assert (code, err) == (0, "")
    assert config_section(out) == {
        "model.dropout": ["0.2", "0.5", "0.5"],
        "logger.mlflow": ["null", "mlflow", "null"],
    }
    assert out.splitlines()[0] == "config: 2 keys differ"
    table = metrics_section(out)
    assert out.split("\nmetrics: ")[1].splitlines()[1].split() == [
        "metric",
        *["sweep/0", "sweep/1", "delta", "sweep/2", "delta"],
    ]
    assert table["status"] == ["completed", "failed (nan_loss)", "incomplete"]
    assert table["epochs"] == ["2", "1", "-1"]  # the incomplete job's cells are blank
    assert table["val/loss"] == ["0.3500"]  # null in the failed run's metrics.json
    assert figure.read_bytes()[:4] == b"\x89PNG" and out.endswith(f"wrote {figure}\n")


@pytest.mark.parametrize(
    ("paths", "expected"),
    [
        (["s/0", "s/3"], ["s/0", "s/3"]),
        (["out/runs/d/10-00", "out/runs/d/11-30"], ["d/10-00", "d/11-30"]),
        (["a", "b/c"], ["a", "b/c"]),
        (["s", "s/0"], ["s", "s/0"]),
        (["x/run", "y/run"], ["x/run", "y/run"]),
        (["s/0", "./s/0"], ["s/0 #1", "s/0 #2"]),
        (["/r/x/a", "/r/x/b"], ["x/a", "x/b"]),
        (["/a", "/b"], ["a", "b"]),  # one run twice: still two names
    ],
)
def test_runs_are_named_by_the_part_of_their_paths_that_differs(
    tmp_path, monkeypatch, paths, expected
):
    monkeypatch.chdir(tmp_path)
    assert compare.short_labels([Path(p) for p in paths]) == expected


def test_differing_keys_leave_out_resume_and_keep_missing_lists_and_types():
    configs = [
        {"resume": "null", "model.units": "[512]", "seed": "1", "a.b": "x", "same": "1"},
        {"resume": "runs/1", "model.units": "[512, 256]", "seed": "'1'", "same": "1"},
    ]
    runs = [compare.Run(Path(str(i)), str(i), c, {}, None) for i, c in enumerate(configs)]
    assert compare.differing_keys(runs) == ["model.units", "seed", "a.b"]
    assert [cell.text for cell in compare.config_rows(runs)[2]] == ["a.b", "x", "missing"]
    flat = compare.flatten({"optimizer": {"learning_rate": 1e-3}, "callbacks": {}, "u": [1]})
    assert flat == {"optimizer.learning_rate": 1e-3, "u": [1]}
    assert [compare.as_text(v) for v in (None, True, 1e-3, [512, 256], "1")] == [
        "null",
        "true",
        "0.001",
        "[512, 256]",
        "'1'",
    ]


def half_written_metrics(run: Path) -> None:
    (run / "metrics.json").write_text('{"status": "compl')


def invalid_config(run: Path) -> None:
    (run / ".hydra" / "config.yaml").write_text("model:\n  units: [512\ntraining: {")


def no_files(run: Path) -> None:
    for name in (".hydra/config.yaml", "metrics.json"):
        (run / name).unlink()


@pytest.mark.parametrize(
    ("spoil", "message"),
    [
        (lambda run: None, "compare needs two run directories or more, got 1"),
        (no_files, "is not a run directory: it has no .hydra/config.yaml nor metrics.json"),
        (half_written_metrics, "metrics.json cannot be read as JSON: Unterminated string"),
        (invalid_config, "config.yaml cannot be read as YAML: "),
        (lambda run: (run / "history.csv").write_text('"epoch\n'), "cannot be read as CSV"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys, spoil, message):
    good, bad = make_run(tmp_path / "good"), make_run(tmp_path / "bad")
    spoil(bad)
    args = [good] if "got 1" in message else [good, bad]
    code, out, err = printed(capsys, *args, "--no-write")
    assert (code, out) == (2, "")
    assert len(err.splitlines()) == 1 and err.startswith("error: ") and message in err


def test_a_path_that_is_not_a_directory_or_an_unwritable_figure_is_one_line(tmp_path, capsys):
    run, file = make_run(tmp_path / "run"), tmp_path / "notes.txt"
    file.write_text("")
    assert printed(capsys, run, file) == (2, "", f"error: {file} is not a directory\n")
    code, _, err = printed(capsys, run, make_run(tmp_path / "other"), "--output", file / "x.png")
    assert code == 2 and err.startswith(f"error: cannot write {file / 'x.png'}: ")
    assert len(err.splitlines()) == 1


def test_help_names_compare_and_a_folder_named_compare_is_still_a_path(
    tmp_path, capsys, monkeypatch
):
    with pytest.raises(SystemExit) as exited:
        report(["--help"])
    assert (
        exited.value.code == 0 and "mnist-exp-report compare RUN_A RUN_B" in capsys.readouterr().out
    )
    monkeypatch.chdir(tmp_path)
    (tmp_path / "compare").mkdir()
    assert report(["./compare", "--no-write"]) == 2  # the summary's answer: no runs in it
    assert "no run directories under compare" in capsys.readouterr().err


@pytest.mark.slow
def test_two_jobs_of_a_real_sweep_compare_end_to_end(tmp_path):
    sweep = tmp_path / "sweep"
    trained = run_cli(
        tmp_path,
        "-m",
        "+experiment=smoke",
        "training.progress=false",
        "optimizer.learning_rate=0.001,0.01",
        f"hydra.sweep.dir={sweep}",
    )
    assert trained.returncode == 0, trained.stderr[-3000:]
    done = subprocess.run(
        [str(Path(sys.executable).with_name("mnist-exp-report")), "compare", "sweep/0", "sweep/1"],
        cwd=tmp_path,
        env=cli_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert config_section(done.stdout) == {"optimizer.learning_rate": ["0.001", "0.01"]}
    a, b = (json.loads((sweep / job / "metrics.json").read_text()) for job in "01")
    change = b["test/accuracy"] - a["test/accuracy"]
    row = metrics_section(done.stdout)["test/accuracy"]
    assert row[:2] == [f"{a['test/accuracy']:.4f}", f"{b['test/accuracy']:.4f}"]
    assert row[2].startswith(f"{'-' if change < 0 else '+'}{abs(change):.4f}")
    assert (tmp_path / "compare.png").read_bytes()[:4] == b"\x89PNG"
