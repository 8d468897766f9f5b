"""Sweeps end to end: a grid, the same grid in parallel, a failing job, and the
summary that every sweep ends with (and that mnist-exp-report rebuilds). Optuna
searches: test_search.py.

Every sweep is a real `mnist-exp -m` in a subprocess, offline, smoke-sized, with
its outputs in tmp. The fast tests at the end build summaries from directories
made by hand.
"""

from __future__ import annotations

import json
import math
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml
from PIL import Image

from mnist_exp.app import report
from mnist_exp.sweeps import page, summary
from mnist_exp.sweeps.jobs import KILLED, mark_lost_jobs
from mnist_exp.sweeps.tables import display_columns
from mnist_exp.training import threads as runtime
from tests.helpers import Page, chromium, cli_env, headless, run_cli
from tests.test_cli import CONTRACT

# Small and fast: 450 training digits, one epoch.
SMALL = ["+experiment=smoke", "training.progress=false", "data.limit_train=500"]
SMALL += ["data.limit_test=200"]
GRID = ["model=one_hidden,two_hidden", "optimizer=adam,rmsprop", "model.units=32"]
# What summary.csv copies from each job's metrics.json.
COPIED = ["status", "val/accuracy", "val/loss", "val/best_epoch", "test/accuracy", "test/loss"]
COPIED += ["train/accuracy", "train/loss", "epochs", "train/seconds", "wall_seconds", "threads"]
SAME_IN_PARALLEL = [c for c in COPIED if c not in ("train/seconds", "wall_seconds", "threads")]


def sweep(
    tmp_path: Path, name: str, *overrides: str, runner=run_cli
) -> tuple[Path, subprocess.CompletedProcess]:
    """`mnist-exp -m SMALL OVERRIDES` into tmp_path/name; runner=run_in_process runs it
    in this process."""
    sweep_dir = tmp_path / name
    result = runner(tmp_path, "-m", *SMALL, *overrides, f"hydra.sweep.dir={sweep_dir}")
    return sweep_dir, result


def read_summary(sweep_dir: Path) -> pd.DataFrame:
    return pd.read_csv(sweep_dir / "summary.csv", float_precision="round_trip")


def metrics_of(job_dir: Path) -> dict:
    return json.loads((job_dir / "metrics.json").read_text())


def markdown_rows(sweep_dir: Path) -> list[dict[str, str]]:
    """The table of summary.md as dicts, in its order."""
    lines = [line for line in (sweep_dir / "summary.md").read_text().splitlines()]
    table = [line for line in lines if line.startswith("|")]
    header = [cell.strip() for cell in table[0].strip("|").split("|")]
    return [
        dict(zip(header, (cell.strip() for cell in line.strip("|").split("|")), strict=True))
        for line in table[2:]
    ]


@pytest.fixture(scope="module")
def grid_sweep(tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    """The 4-job grid with the basic launcher, shared by the tests that read it."""
    return sweep(tmp_path_factory.mktemp("grid"), "basic", *GRID)


@pytest.mark.slow
def test_grid_sweep_writes_every_job_and_a_summary_of_their_metrics(grid_sweep):
    sweep_dir, result = grid_sweep
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert (sweep_dir / "multirun.yaml").is_file()
    for job in range(4):
        missing = [name for name in CONTRACT if not (sweep_dir / str(job) / name).is_file()]
        assert missing == [], f"job {job}"

    table = read_summary(sweep_dir)
    assert list(table["job"]) == [0, 1, 2, 3]
    for _, row in table.iterrows():
        job_dir = sweep_dir / str(row["job"])
        metrics = metrics_of(job_dir)
        assert {c: row[c] for c in COPIED} == {c: metrics[c] for c in COPIED}
        overrides = yaml.safe_load((job_dir / ".hydra/overrides.yaml").read_text())
        assert f"model={row['model']}" in overrides
        assert f"optimizer={row['optimizer']}" in overrides
    assert set(zip(table["model"], table["optimizer"], strict=True)) == {
        (m, o) for m in ("one_hidden", "two_hidden") for o in ("adam", "rmsprop")
    }

    # summary.md: the same jobs, best val/accuracy first
    rows = markdown_rows(sweep_dir)
    assert [r["rank"] for r in rows] == ["1", "2", "3", "4"]
    ranked = table.sort_values("val/accuracy", ascending=False, kind="stable")
    assert [int(r["job"]) for r in rows] == list(ranked["job"])
    assert [float(r["val/accuracy"]) for r in rows] == [round(v, 4) for v in ranked["val/accuracy"]]
    with Image.open(sweep_dir / "plots/sweep.png") as image:
        assert image.size[0] > 300 and image.size[1] > 200
    # and the console shows the ranked table
    assert "ranked by val/accuracy (maximize)" in result.stdout
    assert "two_hidden" in result.stdout.split("ranked by")[-1]


@pytest.mark.slow
def test_a_sweep_shows_its_progress_as_one_line_before_each_job(grid_sweep):
    sweep_dir, result = grid_sweep
    lines = [line for line in result.stdout.splitlines() if line.startswith("sweep: ")]
    assert [line.split(" jobs done")[0] for line in lines] == [f"sweep: {n} of 4" for n in range(5)]
    assert "best val/accuracy" not in lines[0] and "to go" not in lines[-1]
    assert all("(0 failed, 0 pruned)" in line and "elapsed" in line for line in lines)
    assert all("best val/accuracy" in line and "to go" in line for line in lines[1:-1])
    assert "\x1b[" not in result.stdout  # not a terminal: plain text
    # each line comes before its job's own output, and names the best job so far
    table = read_summary(sweep_dir).set_index("job")
    best = table["val/accuracy"].idxmax()
    assert f"best val/accuracy {table.loc[best, 'val/accuracy']:.4f} (job" in lines[-1]
    assert result.stdout.index(lines[1]) < result.stdout.index(str(sweep_dir / "1"))


@pytest.mark.slow
def test_a_sweep_writes_a_page_that_holds_every_job_and_names_nothing_outside(grid_sweep):
    sweep_dir, result = grid_sweep
    text = (sweep_dir / "report.html").read_text()
    html = Page(text)
    table = read_summary(sweep_dir).set_index("job")
    rows = html.rows["jobs"]
    assert len(rows) == 4
    ranked = table.sort_values("val/accuracy", ascending=False, kind="stable")
    assert [int(cells[1]) for _, cells in rows] == list(ranked.index)  # ranked, best first
    data = json.loads(html.scripts["sweep-data"])
    assert [job["job"] for job in data["jobs"]] == ["0", "1", "2", "3"]
    for job in data["jobs"]:
        assert job["objective"] == pytest.approx(table.loc[int(job["job"]), "val/accuracy"])
        assert job["params"]["model"] == table.loc[int(job["job"]), "model"]
        for chart in ("objective", "parallel", "curves"):  # every job is drawn in each
            assert f"{chart}-job-{job['row']}" in html.ids, (chart, job)
    assert html.svgs == 3
    # nothing outside the page: no URL at all; links lead to the sweep's own files
    assert "http:" not in text and "https:" not in text and "//" not in "".join(html.links)
    for link in html.links:
        assert link.startswith("#") or (sweep_dir / link).exists(), link
    assert len(text) < 150_000


BROWSER = chromium()
NO_BROWSER = "no chromium on PATH: apt-get install chromium (make test installs it where it can)"


@pytest.mark.slow
@pytest.mark.skipif(BROWSER is None, reason=NO_BROWSER)
def test_the_sweep_page_renders_and_sorts_in_a_headless_browser(grid_sweep, tmp_path):
    sweep_dir, _ = grid_sweep
    shutil.copytree(sweep_dir, tmp_path / "sweep", ignore=shutil.ignore_patterns("*.keras"))
    source = tmp_path / "sweep" / "report.html"
    profile = tmp_path / "profile"
    dumped = headless(BROWSER, profile, "--dump-dom", source.as_uri())
    assert dumped.returncode == 0, dumped.stderr[-2000:]
    assert "Uncaught" not in dumped.stderr and "data-errors" not in dumped.stdout
    rendered = Page(dumped.stdout)
    assert len(rendered.rows["jobs"]) == 4 and rendered.svgs == 3
    assert 'data-ready="yes"' in dumped.stdout and 'data-jobs="4"' in dumped.stdout

    # a click on a heading sorts the table, in the browser, by that column
    heading = display_columns(summary.build(sweep_dir)).index("job")
    clicked = tmp_path / "sweep" / "clicked.html"
    clicks = f'<script>document.querySelectorAll("#jobs th")[{heading}].click();</script></body>'
    clicked.write_text(source.read_text().replace("</body>", clicks))
    sorted_dom = headless(BROWSER, profile, "--dump-dom", clicked.as_uri())
    order = [int(cells[heading]) for _, cells in Page(sorted_dom.stdout).rows["jobs"]]
    assert order == [0, 1, 2, 3], sorted_dom.stderr[-2000:]

    shot = tmp_path / "report.png"
    size = "--window-size=1280,1400"
    taken = headless(BROWSER, profile, f"--screenshot={shot}", size, source.as_uri())
    assert taken.returncode == 0, taken.stderr[-2000:]
    with Image.open(shot) as image:
        assert image.size == (1280, 1400)
        colours = image.convert("RGB").getcolors(maxcolors=1_000_000)
    assert len(colours) > 50  # charts and text, not a blank page


@pytest.mark.slow
def test_joblib_launcher_runs_the_same_jobs_in_parallel_with_fewer_threads(grid_sweep, tmp_path):
    basic_dir, _ = grid_sweep
    sweep_dir, result = sweep(
        tmp_path, "joblib", *GRID, "hydra/launcher=joblib", "hydra.launcher.n_jobs=2"
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "Joblib.Parallel(n_jobs=2" in result.stdout + result.stderr
    parallel, basic = read_summary(sweep_dir), read_summary(basic_dir)
    columns = ["job", "model", "optimizer", *SAME_IN_PARALLEL]
    pd.testing.assert_frame_equal(parallel[columns], basic[columns])  # seeded, deterministic

    # automatic threads: the cores shared by the 2 parallel jobs; all of them for one job
    cores = runtime.usable_cores()
    assert set(parallel["threads"]) == {max(1, cores // 2)}
    assert set(basic["threads"]) == {cores}


@pytest.mark.slow
def test_a_failing_job_does_not_stop_the_sweep_but_fails_it(tmp_path):
    # job 0 diverges: SGD with a huge step makes the loss NaN within a few steps
    failing = ["optimizer=sgd", "optimizer.learning_rate=1e12,0.01", "model.units=32"]
    sweep_dir, result = sweep(tmp_path, "failing", *failing)
    assert result.returncode != 0
    assert "1 of 2 jobs did not complete" in result.stderr

    bad, ok = metrics_of(sweep_dir / "0"), metrics_of(sweep_dir / "1")
    assert ok["status"] == "completed"
    assert [n for n in CONTRACT if not (sweep_dir / "1" / n).is_file()] == []
    assert bad["status"] == "failed" and bad["reason"] and bad["message"]

    table = read_summary(sweep_dir).set_index("job")
    assert table.loc[1, "status"] == "completed" and table.loc[1, "rank"] == 1
    assert table.loc[0, "status"] == "failed" and table.loc[0, "reason"] == bad["reason"]
    assert table.loc[0, "message"] == bad["message"]
    assert math.isnan(table.loc[0, "rank"]) and math.isnan(table.loc[0, "val/accuracy"])
    markdown = (sweep_dir / "summary.md").read_text()
    assert "## Not completed" in markdown
    assert f"- job 0: failed, {bad['reason']}: {bad['message']}" in markdown
    assert [r["status"] for r in markdown_rows(sweep_dir)] == ["completed", "failed"]


@pytest.mark.slow
def test_report_rebuilds_a_half_written_sweep(grid_sweep, tmp_path):
    source, result = grid_sweep
    assert result.returncode == 0
    sweep_dir = tmp_path / "copy"
    shutil.copytree(source, sweep_dir, ignore=shutil.ignore_patterns("*.keras", "*.png"))
    for name in ("summary.csv", "summary.md"):
        (sweep_dir / name).unlink()
    (sweep_dir / "2" / "metrics.json").unlink()  # job 2 has not got that far
    shutil.copytree(sweep_dir / "3" / ".hydra", sweep_dir / "4" / ".hydra")  # just started
    hydra_yaml = sweep_dir / "4" / ".hydra" / "hydra.yaml"
    hydra_yaml.write_text(hydra_yaml.read_text().replace("num: 3", "num: 4"))

    report = Path(sys.executable).with_name("mnist-exp-report")
    assert report.is_file(), "the console script mnist-exp-report is not installed"
    done = subprocess.run(
        [str(report), str(sweep_dir)],
        env=cli_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    table = read_summary(sweep_dir).set_index("job")
    assert list(table.index) == [0, 1, 2, 3, 4]
    assert list(table["status"]) == [
        "completed",
        "completed",
        "incomplete",
        "completed",
        "incomplete",
    ]
    assert table.loc[2, "model"] == "two_hidden" and table.loc[2, "optimizer"] == "adam"
    assert "incomplete" in done.stdout
    assert (sweep_dir / "plots/sweep.png").is_file()


@pytest.mark.slow
def test_a_sweep_stopped_with_sigterm_still_writes_its_summary(tmp_path):
    sweep_dir = tmp_path / "stopped"
    args = [sys.executable, "-m", "mnist_exp", "-m", *SMALL, "model.units=32"]
    args += ["training.epochs=1,50,1", f"hydra.sweep.dir={sweep_dir}"]
    env = cli_env(tmp_path)
    with subprocess.Popen(args, cwd=tmp_path, env=env, stdout=subprocess.PIPE, text=True) as proc:
        deadline = time.monotonic() + 180
        while not (sweep_dir / "1" / "history.csv").is_file():  # job 1 is training
            assert proc.poll() is None and time.monotonic() < deadline, proc.stdout.read()
            time.sleep(0.2)
        proc.send_signal(signal.SIGTERM)
        stdout, _ = proc.communicate(timeout=120)
    assert proc.returncode == 143, stdout[-3000:]
    table = read_summary(sweep_dir)
    assert list(table["job"]) == [0, 1]  # job 2 never started
    assert list(table["status"]) == ["completed", "interrupted"]
    assert "interrupted" in (sweep_dir / "summary.md").read_text()
    assert "ranked by val/accuracy" in stdout
    rows = Page((sweep_dir / "report.html").read_text()).rows["jobs"]  # the page too
    assert [cells[3:5] for _, cells in rows] == [["completed", ""], ["interrupted", "SIGTERM"]]


# --- fast: summaries of directories made by hand ---------------------------------


def make_job(folder: Path, num: int, overrides: list[str], metrics: dict | None, **config):
    hydra_dir = folder / str(num) / ".hydra"
    hydra_dir.mkdir(parents=True)
    (hydra_dir / "overrides.yaml").write_text(yaml.safe_dump(overrides))
    (hydra_dir / "config.yaml").write_text(yaml.safe_dump(config))
    (hydra_dir / "hydra.yaml").write_text(yaml.safe_dump({"hydra": {"job": {"num": num}}}))
    if metrics is not None:
        (folder / str(num) / "metrics.json").write_text(json.dumps(metrics))


def done(loss: float, accuracy: float) -> dict:
    return {"status": "completed", "val/loss": loss, "val/accuracy": accuracy, "epochs": 2}


def test_summary_reads_each_swept_value_as_it_was_given(tmp_path):
    """Every digit of a sampled learning rate (pandas 2's to_numeric reads this one a last
    digit off), and integers as integers."""
    for num, rate, units in ((0, "0.006251373574521752", "64"), (1, "0.1", "128")):
        overrides = [f"optimizer.learning_rate={rate}", f"model.units={units}"]
        make_job(tmp_path, num, overrides, done(0.5, 0.9))
    table = summary.build(tmp_path).table.sort_values("job")
    assert list(table["optimizer.learning_rate"]) == [0.006251373574521752, 0.1]
    assert list(table["model.units"]) == [64, 128] and table["model.units"].dtype.kind == "i"


def test_summary_ranks_a_loss_lowest_first_and_keeps_failures_last(tmp_path):
    objective = {"optimized_metric": "val/loss"}
    make_job(
        tmp_path,
        0,
        ["+experiment=smoke", "optimizer.learning_rate=0.1"],
        done(0.9, 0.8),
        **objective,
    )
    failed = {"status": "failed", "reason": "nan_loss", "message": "loss became NaN"}
    make_job(tmp_path, 1, ["+experiment=smoke", "optimizer.learning_rate=1.0"], failed, **objective)
    make_job(
        tmp_path,
        2,
        ["+experiment=smoke", "optimizer.learning_rate=0.01"],
        done(0.3, 0.7),
        **objective,
    )
    make_job(
        tmp_path, 10, ["+experiment=smoke", "optimizer.learning_rate=0.001"], None, **objective
    )

    result = summary.build(tmp_path)
    assert (result.objective, result.direction) == ("val/loss", "minimize")
    assert result.swept == ["optimizer.learning_rate"]
    assert result.common == ["+experiment=smoke"]
    table = result.table
    assert list(table["job"]) == [2, 0, 1, 10]  # ranked, then the rest by job number
    assert [0 if pd.isna(r) else r for r in table["rank"]] == [1, 2, 0, 0]
    assert list(table["status"]) == ["completed", "completed", "failed", "incomplete"]
    assert table["optimizer.learning_rate"].dtype.kind == "f"
    assert [-1 if pd.isna(e) else e for e in table["epochs"]] == [2, 2, -1, -1]

    summary.write(result)
    by_job = read_summary(tmp_path)
    assert list(by_job["job"]) == [0, 1, 2, 10]  # summary.csv keeps the job order
    assert by_job.loc[1, "message"] == "loss became NaN"
    rows = markdown_rows(tmp_path)
    assert [r["job"] for r in rows] == ["2", "0", "1", "10"]
    assert rows[2]["reason"] == "nan_loss"
    assert "- job 10: incomplete" in (tmp_path / "summary.md").read_text()
    assert (tmp_path / "plots" / "sweep.png").is_file()


def test_summary_says_which_jobs_early_stopping_ended(tmp_path):
    stopped = {**done(0.3, 0.9), "epochs": 4, "stopped_epoch": 4, "stop_reason": "early_stopping"}
    make_job(tmp_path, 0, ["training.epochs=10", "model.dropout=0.1"], stopped)
    make_job(tmp_path, 1, ["training.epochs=10", "model.dropout=0.2"], done(0.4, 0.8))
    summary.write(summary.build(tmp_path))
    by_job = read_summary(tmp_path)
    assert by_job.loc[0, "stopped_epoch"] == 4 and pd.isna(by_job.loc[1, "stopped_epoch"])
    rows = {row["job"]: row for row in markdown_rows(tmp_path)}
    assert (rows["0"]["stopped_epoch"], rows["1"]["stopped_epoch"]) == ("4", "")


def test_the_page_shows_why_jobs_did_not_complete_and_groups_seed_repeats(tmp_path):
    sweep_dir = tmp_path / "sweep"
    for num, (units, seed) in enumerate([(16, 1), (16, 2), (32, 1), (32, 2)]):
        given = [f"model.units={units}", f"training.seed={seed}"]
        make_job(sweep_dir, num, given, done(0.5 - units / 100, 0.8 + units / 1000 + seed / 100))
        history = pd.DataFrame({"epoch": [1, 2], "val/accuracy": [0.5, 0.8], "val/loss": [1, 0.5]})
        history.to_csv(sweep_dir / str(num) / "history.csv", index=False)
    failed = {"status": "failed", "reason": "nan_loss", "message": "loss <b>NaN</b> at epoch 2"}
    make_job(
        sweep_dir, 4, ["model.units=64", "training.seed=1"], {**failed, "val/accuracy": math.inf}
    )
    pruned = {**done(0.9, 0.4), "status": "pruned", "stopped_epoch": 1}
    make_job(sweep_dir, 5, ["model.units=64", "training.seed=2"], pruned)
    make_job(sweep_dir, 6, ["model.units=8", "training.seed=1"], None)  # still starting

    written = summary.write(summary.build(sweep_dir))
    assert sweep_dir / page.REPORT_HTML in written
    text = (sweep_dir / page.REPORT_HTML).read_text()
    html = Page(text)
    rows = {cells[1]: cells for _, cells in html.rows["jobs"]}
    assert list(rows) == ["3", "2", "1", "0", "5", "4", "6"]  # ranked; pruned; the rest
    assert rows["4"][-1] == "loss <b>NaN</b> at epoch 2" and "nan_loss" in rows["4"]
    assert "<b>NaN</b>" not in text  # a job's text is shown, never run as markup
    assert "pruned" in rows["5"] and "incomplete" in rows["6"]
    # seed repeats as mean ± std, best configuration first
    repeats = html.rows["repeats"]
    assert [cells[1] for _, cells in repeats] == ["32", "16"]
    assert "0.8470 ± 0.0071" in repeats[0][1]  # (0.842 + 0.852) / 2, and their std
    # the best job links to its folder; the failed and waiting ones are drawn as crosses
    assert "3/" in html.links
    assert {f"objective-job-{i}" for i in range(7)} <= html.ids
    assert {f"curves-job-{i}" for i in range(4)} <= html.ids  # the 4 with a history
    assert "importances" not in html.ids  # not an Optuna sweep
    # the page's data is JSON a browser reads: no NaN or Infinity in it
    data = json.loads(html.scripts["sweep-data"], parse_constant=pytest.fail)
    assert len(data["jobs"]) == 7


def test_the_page_over_an_outputs_folder_holds_every_run_and_sweep_found(tmp_path):
    outputs = tmp_path / "outputs"
    for name in ("multirun/a", "multirun/b"):
        for num in (0, 1):
            make_job(outputs / name, num, [f"model.units={8 * (num + 1)}"], done(0.5, 0.7 + num))
    make_job(outputs / "runs", 0, ["model=two_hidden"], done(0.4, 0.75))  # a single run
    assert report.report([str(outputs)]) == 0
    html = Page((outputs / page.REPORT_HTML).read_text())
    paths = sorted(cells[1] for _, cells in html.rows["jobs"])
    assert paths == ["multirun/a/0", "multirun/a/1", "multirun/b/0", "multirun/b/1", "runs/0"]
    assert {f"multirun/a/{n}/" for n in (0, 1)} <= set(html.links)  # each links to its folder
    assert {f"objective-job-{i}" for i in range(5)} <= html.ids


def test_page_charts_are_svg_with_their_own_ids_and_a_tooltip_per_job():
    from matplotlib.figure import Figure

    figure = Figure()
    (line,) = figure.add_subplot().plot([0, 1], [1, 2])
    line.set_gid("job-7")
    text = page.svg(figure, "demo", {"7": "job 7: val/accuracy 0.9"})
    assert text.startswith("<svg") and "xmlns" not in text and "<?xml" not in text
    ids = [i for i in text.split('id="')[1:]]
    assert ids and all(i.startswith("demo-") for i in ids)
    assert '<g id="demo-job-7"><title>job 7: val/accuracy 0.9</title>' in text
    assert "url(#demo-" in text  # clip paths follow their renamed ids


def test_summary_of_an_empty_folder_is_empty_and_report_says_so(tmp_path):
    assert summary.build(tmp_path).table.empty
    assert report.report([str(tmp_path), "--no-write"]) == 2


def test_parallel_jobs_follow_the_joblib_launcher():
    cores = runtime.usable_cores()
    joblib = "hydra_plugins.hydra_joblib_launcher.joblib_launcher.JoblibLauncher"
    basic = "hydra._internal.core_plugins.basic_launcher.BasicLauncher"
    assert runtime.parallel_jobs({"_target_": basic}) == 1
    assert runtime.parallel_jobs({"_target_": joblib, "n_jobs": 2}) == 2
    assert runtime.parallel_jobs({"_target_": joblib, "n_jobs": -1}) == cores
    assert runtime.parallel_jobs({"_target_": joblib, "n_jobs": -2}) == max(1, cores - 1)
    # never more than the sweeper hands over at once
    optuna = {"_target_": "hydra_plugins.mnist_exp_optuna_sweeper.optuna_sweeper.OptunaSweeper"}
    assert runtime.parallel_jobs({"_target_": joblib, "n_jobs": 4}, {**optuna, "n_jobs": 1}) == 1
    assert runtime.parallel_jobs({"_target_": joblib, "n_jobs": 4}, {**optuna, "n_jobs": 3}) == 3
    # each trial of a search with repeats is that many jobs
    with_repeats = {**optuna, "n_jobs": 1, "repeats": 3}
    assert runtime.parallel_jobs({"_target_": joblib, "n_jobs": 4}, with_repeats) == 3
    assert runtime.parallel_jobs({"_target_": joblib, "n_jobs": 4}, {"max_batch_size": 2}) == 2
    assert runtime.parallel_jobs({"_target_": joblib, "n_jobs": 4}, {"max_batch_size": None}) == 4
    assert runtime.automatic_threads(1) == cores
    assert runtime.automatic_threads(cores * 4) == 1
    assert runtime.automatic_threads(2) * 2 <= max(2, cores)


def test_jobs_at_once_is_what_the_launcher_says_it_runs_at_once():
    joblib = "hydra_plugins.hydra_joblib_launcher.joblib_launcher.JoblibLauncher"
    cores = runtime.usable_cores()
    assert runtime.jobs_at_once({"_target_": joblib, "n_jobs": 2}) == 2
    assert runtime.jobs_at_once({"_target_": joblib, "n_jobs": -1}) == cores
    assert runtime.jobs_at_once({"array_parallelism": 16, "cpus_per_task": 4}) == 16
    assert runtime.jobs_at_once({"_target_": runtime.BATCH_AT_ONCE[0]}) == cores
    for says_nothing in ({}, {"n_jobs": None}, {"n_jobs": True}, {"num_cpus": 2}):
        assert runtime.jobs_at_once(says_nothing) is None
    # a cluster's array is not this machine's: threads follow only local jobs
    assert runtime.parallel_jobs({"array_parallelism": 16}) == 1


def test_jobs_left_running_when_a_sweep_ends_are_recorded_as_killed(tmp_path):
    make_job(tmp_path, 0, ["x=1"], done(0.5, 0.9))
    make_job(tmp_path, 1, ["x=2"], {"status": "running", "seed": 7})
    make_job(tmp_path, 2, ["x=3"], None)  # died before writing anything
    lost = mark_lost_jobs(tmp_path)
    assert [p.name for p in lost] == ["1", "2"]
    assert metrics_of(tmp_path / "0")["status"] == "completed"
    for job in ("1", "2"):
        metrics = metrics_of(tmp_path / job)
        assert (metrics["status"], metrics["reason"]) == ("failed", KILLED)
    assert metrics_of(tmp_path / "1")["seed"] == 7  # what it said before is kept


def test_a_refused_sweep_directory_is_left_as_it_was(tmp_path):
    """Another sweep's directory (maybe still running) is refused; its jobs are not ours."""
    sweep_dir = tmp_path / "busy"
    make_job(sweep_dir, 0, ["x=1"], {"status": "running"})
    (sweep_dir / "multirun.yaml").write_text("hydra: {}\n")
    result = run_cli(tmp_path, "-m", "+experiment=smoke", f"hydra.sweep.dir={sweep_dir}")
    assert result.returncode != 0
    assert metrics_of(sweep_dir / "0")["status"] == "running"
    assert not (sweep_dir / "summary.csv").exists()


def test_a_summary_takes_no_objective_from_jobs_that_refused_theirs(tmp_path):
    """Jobs whose optimized_metric is outside the vocabulary stopped at their config
    check; the summary of them ranks by the default objective, not by a guess."""
    refused = {"status": "failed", "reason": "config_error", "message": "optimized_metric=..."}
    make_job(tmp_path, 0, ["optimized_metric=val/f1"], refused, optimized_metric="val/f1")
    make_job(
        tmp_path, 1, ["optimized_metric=val/loss"], done(0.3, 0.7), optimized_metric="val/loss"
    )
    result = summary.build(tmp_path)
    assert (result.objective, result.direction) == ("val/loss", "minimize")
    only_refused = tmp_path / "refused"
    make_job(only_refused, 0, ["optimized_metric=val/f1"], refused, optimized_metric="val/f1")
    result = summary.build(only_refused)
    assert (result.objective, result.direction) == ("val/accuracy", "maximize")
    assert list(result.table["status"]) == ["failed"]
