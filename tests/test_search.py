"""The Optuna sweeper (hydra_plugins/mnist_exp_optuna_sweeper): stored studies that
continue, pruning (in one process and in parallel joblib jobs), two-metric searches,
seed repeats, and search files written for hydra-optuna-sweeper 1.3.

Each search is a real `mnist-exp -m` on a few hundred bundled digits; what the
sweeper told Optuna is read back from the study's own storage.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import optuna
import pandas as pd
import pytest
import sqlalchemy
import yaml
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.trial import TrialState

from mnist_exp.errors import ConfigError
from mnist_exp.sweeps import repeats, study
from mnist_exp.sweeps.space import grid, search_space
from mnist_exp.sweeps.summary import Summary, pareto_front
from tests.helpers import Page, run_in_process
from tests.test_sweeps import metrics_of, read_summary, sweep

SEARCH = ["+hparams_search=optuna", "model.units=choice(16,32)"]
# A space where low learning rates are hopeless; seeded random proposals do not
# depend on earlier results, so a search with and without a pruner proposes the same.
HOPELESS = [
    "+hparams_search=optuna",
    "hydra/sweeper/optuna_sampler=random",
    "training.epochs=3",
    "training.deterministic=true",
    "model.units=32",
    "optimizer=rmsprop",
    "model.dropout=0.0",
    "training.batch_size=64",
    "optimizer.learning_rate=tag(log,interval(1e-7,1e-1))",
]
MEDIAN = ["hydra/sweeper/optuna_pruner=median", "hydra.sweeper.pruner.n_startup_trials=3"]


def dashboard_get(storage: Path, path: str) -> dict:
    """A GET of optuna-dashboard's JSON API on `storage`, through its WSGI app."""
    from wsgiref.util import setup_testing_defaults

    from optuna_dashboard import wsgi
    from optuna_dashboard._cli import get_storage  # how its command line reads STORAGE

    environ = {"PATH_INFO": path}
    setup_testing_defaults(environ)
    status = []
    app = wsgi(get_storage(str(storage)))
    body = b"".join(app(environ, lambda code, headers, exc=None: status.append(code)))
    assert status == ["200 OK"], body[:300]
    return json.loads(body)


def ok(result) -> None:
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


def journal(sweep_dir: Path, name: str = "mnist-exp") -> optuna.Study:
    return optuna.load_study(study_name=name, storage=study.storage(None, sweep_dir))


def epochs_trained(sweep_dir: Path) -> int:
    return sum(len(pd.read_csv(p)) for p in sweep_dir.glob("*/history.csv"))


@pytest.mark.slow
def test_a_stored_study_continues_until_n_trials_are_finished_in_total(tmp_path):
    assert optuna.__version__ >= "5" and sqlalchemy.__version__ >= "2"
    storage = f"sqlite:///{tmp_path}/studies/mnist.db"  # the folder does not exist yet
    search = [*SEARCH, f"hydra.sweeper.storage={storage}"]
    first_dir, result = sweep(tmp_path, "first", *search, "hydra.sweeper.n_trials=3")
    ok(result)
    assert "0 finished trials found, 3 to go" in result.stderr + result.stdout
    first = read_summary(first_dir)
    assert len(first) == 3 and set(first["status"]) == {"completed"}
    results = yaml.safe_load((first_dir / "optimization_results.yaml").read_text())
    best = first.sort_values("rank").iloc[0]
    assert best["val/accuracy"] == pytest.approx(results["best_value"], abs=1e-12)
    # every searched parameter is a column; the optimizer is a choice over the config group
    for key in ("optimizer.learning_rate", "model.dropout", "training.batch_size"):
        assert first[key].nunique() > 1, key
    for _, row in first.iterrows():
        config = yaml.safe_load((first_dir / str(row["job"]) / ".hydra/config.yaml").read_text())
        assert config["optimizer"]["name"] == row["optimizer"]
        assert config["optimizer"]["learning_rate"] == row["optimizer.learning_rate"]

    # the same command and storage, n_trials=5: two more trials, not five
    again_dir, result = sweep(tmp_path, "again", *search, "hydra.sweeper.n_trials=5")
    ok(result)
    assert "3 finished trials found, 2 to go" in result.stderr + result.stdout
    again = read_summary(again_dir)
    assert len(again) == 2
    stored = optuna.load_study(study_name="mnist-exp", storage=storage)
    assert [t.state for t in stored.trials] == [TrialState.COMPLETE] * 5
    values = list(first["val/accuracy"]) + list(again["val/accuracy"])
    assert stored.best_value == pytest.approx(max(values), abs=1e-12)
    assert [t.value for t in stored.trials] == pytest.approx(values, abs=1e-12)
    # a third time: nothing left to do
    done_dir, result = sweep(tmp_path, "done", *search, "hydra.sweeper.n_trials=5")
    ok(result)
    assert "5 finished trials found, 0 to go" in result.stderr + result.stdout
    assert len(optuna.load_study(study_name="mnist-exp", storage=storage).trials) == 5


@pytest.mark.slow
def test_a_median_pruner_stops_hopeless_trials_and_keeps_the_best(tmp_path):
    trials = ["hydra.sweeper.n_trials=8"]
    full_dir, result = sweep(tmp_path, "full", *HOPELESS, *trials)
    ok(result)
    pruned_dir, result = sweep(tmp_path, "pruned", *HOPELESS, *trials, *MEDIAN)
    ok(result)  # pruned trials are not failures

    full, pruned = read_summary(full_dir), read_summary(pruned_dir)
    assert list(full["optimizer.learning_rate"]) == list(pruned["optimizer.learning_rate"])
    assert epochs_trained(full_dir) == 8 * 3
    assert epochs_trained(pruned_dir) < 8 * 3
    stopped = pruned[pruned["status"] == "pruned"]
    assert len(stopped) >= 1
    for job in stopped["job"]:
        metrics = metrics_of(pruned_dir / str(job))
        assert metrics["stop_reason"] == "pruned"
        assert metrics["epochs"] == metrics["stopped_epoch"] < 3
        assert (pruned_dir / str(job) / "model.keras").is_file()  # a complete run directory
    # the study agrees, trial by trial (trial number = job number in a fresh study)
    states = {t.number: t.state for t in journal(pruned_dir).trials}
    assert {n for n, s in states.items() if s == TrialState.PRUNED} == set(stopped["job"])
    assert journal(pruned_dir).best_value == journal(full_dir).best_value
    assert pruned["val/accuracy"].max() == full["val/accuracy"].max()
    # ranked below every completed job
    ranks = pruned.set_index("status")["rank"]
    assert ranks.loc[["pruned"]].min() > ranks.loc[["completed"]].max()
    assert "## Pruned" in (pruned_dir / "summary.md").read_text()
    # the page ranks the trials and shows Optuna's importance of the one searched parameter
    html = Page((pruned_dir / "report.html").read_text())
    assert len(html.rows["jobs"]) == 8 and "importances" in html.ids
    assert "importances-param-optimizer.learning_rate" in html.ids  # its bar
    # optuna-dashboard opens the study's journal file as `optuna-dashboard PATH` does
    studies = dashboard_get(pruned_dir / study.STORAGE_FILE, "/api/studies")["study_summaries"]
    assert [s["study_name"] for s in studies] == ["mnist-exp"]
    trials = dashboard_get(pruned_dir / study.STORAGE_FILE, "/api/studies/0")["trials"]
    assert sorted(t["state"] for t in trials) == sorted(
        "Pruned" if s == TrialState.PRUNED else "Complete" for s in states.values()
    )


@pytest.mark.slow
def test_pruning_works_across_parallel_joblib_jobs_through_the_default_journal(tmp_path):
    parallel = ["hydra/launcher=joblib", "hydra.launcher.n_jobs=2", "hydra.sweeper.n_jobs=2"]
    sweep_dir, result = sweep(
        tmp_path, "parallel", *HOPELESS, *MEDIAN, *parallel, "hydra.sweeper.n_trials=8"
    )
    ok(result)
    assert (sweep_dir / study.STORAGE_FILE).is_file()
    table = read_summary(sweep_dir)
    trials = journal(sweep_dir).trials
    assert len(trials) == 8
    pruned = {t.number for t in trials if t.state == TrialState.PRUNED}
    assert pruned and pruned == set(table[table["status"] == "pruned"]["job"])
    # each job, in its worker process, reported every epoch it trained to its trial
    for trial in trials:
        history = pd.read_csv(sweep_dir / str(trial.number) / "history.csv")
        assert sorted(trial.intermediate_values) == list(history["epoch"])
        assert list(trial.intermediate_values.values()) == pytest.approx(
            list(history["val/accuracy"]), abs=1e-6
        )


def test_a_search_without_a_study_name_names_its_study_for_the_app_and_optuna_stays_quiet(
    tmp_path,
):
    before = optuna.logging.get_verbosity()
    unnamed = [*SEARCH, "hydra.sweeper.study_name=null", "hydra.sweeper.n_trials=1"]
    sweep_dir, result = sweep(tmp_path, "unnamed", *unnamed, runner=run_in_process)
    ok(result)
    output = result.stdout + result.stderr
    assert "study mnist-exp in" in output  # our line, with the job's name as the study's
    assert "A new study created" not in output and "Study name was omitted" not in output
    assert optuna.logging.get_verbosity() == before  # Optuna's logging as it was
    stored = optuna.get_all_study_names(storage=study.storage(None, sweep_dir))
    assert stored == ["mnist-exp"] and len(journal(sweep_dir).trials) == 1


@pytest.mark.slow
def test_trials_run_as_many_at_once_as_the_joblib_launcher_runs_jobs(tmp_path):
    # no hydra.sweeper.n_jobs: the sweeper hands the launcher two trials at a time
    launcher = ["hydra/launcher=joblib", "hydra.launcher.n_jobs=2"]
    sweep_dir, result = sweep(tmp_path, "follows", *SEARCH, *launcher, "hydra.sweeper.n_trials=4")
    ok(result)
    assert "hydra.sweeper.n_jobs" not in result.stderr  # nothing to say: they agree
    # a job starts when Hydra writes its .hydra/ and ends when it writes metrics.json
    spans = [
        ((job / ".hydra" / "config.yaml").stat().st_mtime, (job / "metrics.json").stat().st_mtime)
        for job in (sweep_dir / str(n) for n in range(4))
    ]
    for first, second in ((0, 1), (2, 3)):  # each batch's two jobs ran side by side
        assert spans[first][0] < spans[second][1] and spans[second][0] < spans[first][1]
    assert max(spans[0][1], spans[1][1]) <= min(spans[2][0], spans[3][0])  # batch by batch
    # asked for one at a time beside two workers: one line says what each hands over
    _, result = sweep(
        tmp_path, "one", *SEARCH, *launcher, "hydra.sweeper.n_jobs=1", "hydra.sweeper.n_trials=1"
    )
    ok(result)
    assert "hydra.sweeper.n_jobs=1 hands 1 jobs at a time to a launcher that runs 2" in (
        result.stderr + result.stdout
    )


@pytest.mark.slow
def test_pruning_works_with_jobs_on_a_local_ray_instance(tmp_path):
    from tests.test_launchers import launched_sweep

    if not Path("/proc/self/environ").is_file():
        pytest.skip("needs /proc to find the sweep's processes")
    search = [*HOPELESS, *MEDIAN, "hydra.sweeper.n_jobs=2", "hydra.sweeper.n_trials=6"]
    sweep_dir, result, survivors = launched_sweep(tmp_path, "ray", jobs=search)
    ok(result)
    assert survivors == []
    table = read_summary(sweep_dir)
    trials = journal(sweep_dir).trials
    pruned = {t.number for t in trials if t.state == TrialState.PRUNED}
    assert len(trials) == 6
    assert pruned and pruned == set(table[table["status"] == "pruned"]["job"])
    for trial in trials:
        assert len(trial.intermediate_values) == metrics_of(sweep_dir / str(trial.number))["epochs"]


@pytest.mark.slow
def test_a_two_metric_search_marks_the_pareto_front_optuna_finds(tmp_path):
    two = [
        *SEARCH,
        "hydra/sweeper/optuna_sampler=nsgaii",
        "hydra.sweeper.sampler.population_size=4",
        "optimized_metric=[val/accuracy,train/seconds]",
        "hydra.sweeper.n_trials=5",
    ]
    sweep_dir, result = sweep(tmp_path, "pareto", *two)
    ok(result)
    searched = journal(sweep_dir)
    assert [d.name.lower() for d in searched.directions] == ["maximize", "minimize"]
    table = read_summary(sweep_dir)
    front = set(table[table["pareto"].fillna(False).astype(bool)]["job"])
    assert front == {t.number for t in searched.best_trials}
    for trial in searched.trials:
        row = table[table["job"] == trial.number].iloc[0]
        assert trial.values == pytest.approx([row["val/accuracy"], row["train/seconds"]])
    solutions = yaml.safe_load((sweep_dir / "optimization_results.yaml").read_text())
    assert len(solutions["solutions"]) == len(front)


@pytest.mark.slow
def test_seed_repeats_are_grouped_with_their_mean_and_deviation(tmp_path):
    sweep_dir, result = sweep(tmp_path, "seeds", "model.units=16,32", "training.seed=1,2,3")
    ok(result)
    grouped = pd.read_csv(sweep_dir / "summary_repeats.csv")
    assert len(read_summary(sweep_dir)) == 6  # the jobs' own rows stay
    assert list(grouped["seeds"]) == [3, 3]
    for _, row in grouped.iterrows():
        jobs = [metrics_of(sweep_dir / j) for j in row["jobs"].split()]
        assert {j["seed"] for j in jobs} == {1, 2, 3}
        for metric in ("val/accuracy", "test/accuracy", "train/seconds"):
            values = np.array([j[metric] for j in jobs])
            assert row[f"{metric} mean"] == pytest.approx(values.mean(), abs=1e-12)
            assert row[f"{metric} std"] == pytest.approx(values.std(ddof=1), abs=1e-12)
    assert grouped["val/accuracy mean"].is_monotonic_decreasing  # ranked by the mean
    assert "## Seed repeats" in (sweep_dir / "summary.md").read_text()


@pytest.mark.slow
def test_optuna_repeats_run_each_configuration_with_seeds_and_report_the_mean(tmp_path):
    search = [*SEARCH, "hydra.sweeper.repeats=2", "hydra.sweeper.n_trials=2"]
    sweep_dir, result = sweep(tmp_path, "repeats", *search)
    ok(result)
    table = read_summary(sweep_dir)
    assert len(table) == 4
    for trial in journal(sweep_dir).trials:
        jobs = [metrics_of(sweep_dir / str(2 * trial.number + r)) for r in range(2)]
        assert [j["seed"] for j in jobs] == [42, 43]
        mean = sum(j["val/accuracy"] for j in jobs) / 2
        assert trial.value == pytest.approx(mean, abs=1e-12)
    assert list(pd.read_csv(sweep_dir / "summary_repeats.csv")["seeds"]) == [2, 2]


# A search file as hydra-optuna-sweeper 1.3's README writes one (its example's keys), its
# defaults naming our sweeper and sampler group: hydra/sweeper=optuna stays the plugin's.
PLUGIN_13_SEARCH = """\
# @package _global_
defaults:
  - override /hydra/sweeper: optuna_search
  - override /hydra/sweeper/optuna_sampler: tpe

hydra:
  sweeper:
    sampler:
      seed: 123
      consider_prior: true
      n_startup_trials: 10
    direction: maximize
    study_name: digits
    storage: null
    n_trials: 3
    n_jobs: 1
    max_failure_rate: 0.0
    params:
      model.units: choice(16, 32)
      optimizer.learning_rate: tag(log, interval(0.001, 0.01))
      training.batch_size: range(32, 96, step=32)
"""


@pytest.mark.slow
def test_a_search_file_written_for_hydra_optuna_sweeper_1_3_runs_with_our_names(tmp_path):
    conf = tmp_path / "conf" / "hparams_search"
    conf.mkdir(parents=True)
    (conf / "plugin13.yaml").write_text(PLUGIN_13_SEARCH)
    sweep_dir, result = sweep(
        tmp_path,
        "plugin13",
        f"hydra.searchpath=[file://{tmp_path / 'conf'}]",  # the user's own config folder
        "+hparams_search=plugin13",
    )
    ok(result)
    table = read_summary(sweep_dir)
    assert len(table) == 3 and set(table["status"]) == {"completed"}
    assert set(table["training.batch_size"]) <= {32, 64, 96}  # range's stop included
    assert table["optimizer.learning_rate"].between(0.001, 0.01).all()
    assert journal(sweep_dir, "digits").best_value == table["val/accuracy"].max()


# -- fast: the search space, the front, the groups, refusals ---------------------------


def test_params_become_optuna_distributions_and_the_command_line_wins():
    space, fixed = search_space(
        [
            "optimizer=choice(adam, sgd)",
            "model.units=range(16, 64, step=16)",
            "lr=tag(log, interval(1e-4, 1e-1))",
            "model.dropout=interval(0.0, 0.5)",
            "training.epochs=interval(1, 5)",
            "data=mnist_5k",
            "model.units=choice(8, 9)",  # a later key replaces an earlier one
        ]
    )
    assert space["optimizer"] == CategoricalDistribution(["adam", "sgd"])
    assert space["model.units"] == CategoricalDistribution([8, 9])
    assert space["lr"] == FloatDistribution(1e-4, 1e-1, log=True)
    assert space["model.dropout"] == FloatDistribution(0.0, 0.5)
    assert space["training.epochs"] == FloatDistribution(1, 5)  # Hydra's interval: floats
    assert fixed == ["data=mnist_5k"]
    ranged, _ = search_space(["model.units=range(16, 64, step=16)"])
    assert ranged["model.units"] == IntDistribution(16, 64, step=16)  # stop included
    assert grid(ranged) == {"model.units": [16, 32, 48, 64]}
    with pytest.raises(ConfigError, match="grid sampler needs choice"):
        grid(space)


def test_the_pareto_front_is_the_set_of_undominated_completed_jobs():
    rng = np.random.default_rng(0)
    table = pd.DataFrame(
        {
            "status": ["completed"] * 30 + ["failed", "pruned"],
            "val/accuracy": np.r_[rng.random(30), 1.0, 1.0],
            "train/seconds": np.r_[rng.random(30), 0.0, 0.0],
        }
    )
    both = ["val/accuracy", "train/seconds"]
    table.loc[5, both] = table.loc[4, both]
    front = pareto_front(table, both)
    acc, sec = table["val/accuracy"].to_numpy(), table["train/seconds"].to_numpy()
    for i in range(30):
        dominated = any(
            acc[j] >= acc[i] and sec[j] <= sec[i] and (acc[j] > acc[i] or sec[j] < sec[i])
            for j in range(30)
        )
        assert bool(front[i]) is (not dominated), i
    assert front[4] == front[5]  # equal jobs do not dominate each other
    assert pd.isna(front[30]) and pd.isna(front[31])  # only completed jobs count


def test_seed_groups_need_two_seeds_of_one_configuration():
    def summary_of(units, seeds, accuracy):
        table = pd.DataFrame(
            {
                "job": range(len(units)),
                "model.units": units,
                "training.seed": seeds,
                "status": "completed",
                "val/accuracy": accuracy,
            }
        )
        swept = ["model.units", "training.seed"]
        return Summary(Path("."), table, "val/accuracy", "maximize", swept, [])

    grouped = repeats.group(summary_of([8, 8, 16, 16], [1, 2, 1, 2], [0.1, 0.3, 0.6, 0.8]))
    assert list(grouped["model.units"]) == [16, 8]
    assert list(grouped["val/accuracy mean"]) == pytest.approx([0.7, 0.2])
    assert list(grouped["val/accuracy std"]) == pytest.approx([math.sqrt(0.02)] * 2)
    assert repeats.group(summary_of([8, 16], [1, 2], [0.1, 0.2])) is None


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            [*MEDIAN, "optimized_metric=test/accuracy"],
            "optimized_metric=test/accuracy is not measured every epoch",
        ),
        (
            [*MEDIAN, "optimized_metric=[val/accuracy,train/seconds]"],
            "Optuna prunes single-objective searches",
        ),
        ([*MEDIAN, "hydra.sweeper.repeats=2"], "repeats > 1 and a pruner"),
        (["hydra.sweeper.repeats=2", "training.seed=choice(1,2)"], "sets training.seed"),
        (["hydra.sweeper.repeats=0"], "repeats=0: at least 1"),
        (["hydra.sweeper.n_jobs=0"], "n_jobs=0: at least 1"),  # would ask for trials forever
        (["hydra.sweeper.retries=-1"], "retries=-1: 0 or more"),
        (["hydra.sweeper.direction=[maximize,minimize]"], "one direction per optimized_metric"),
        (["hydra.sweeper.direction=up"], "direction=up: maximize or minimize"),
        (["hydra.sweeper.sampler._target_=os.system"], "'os.system' is not allowed"),
        (["hydra.sweeper.pruner._target_=os.system"], "'os.system' is not allowed"),
        (["hydra.sweeper.custom_search_space=os.system"], "custom_search_space=os.system"),
        (
            ["hydra/sweeper/optuna_sampler=grid", "model.dropout=interval(0,1)"],
            "grid sampler needs",
        ),
    ],
)
def test_a_search_it_cannot_run_is_refused_in_one_line_before_any_job(tmp_path, overrides, message):
    sweep_dir, result = sweep(
        tmp_path, "refused", "+hparams_search=optuna", *overrides, runner=run_in_process
    )
    assert result.returncode == 2, result.stdout[-2000:] + result.stderr[-2000:]
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not any(sweep_dir.glob("*/metrics.json"))


def test_a_job_outside_a_pruned_search_has_no_trial(monkeypatch):
    monkeypatch.delenv(study.TRIAL_ENV, raising=False)
    assert study.job_trial(None) is None


def test_the_default_storage_is_a_journal_file_in_the_sweep_directory(tmp_path):
    created = optuna.create_study(study_name="s", storage=study.storage(None, tmp_path / "sweep"))
    created.enqueue_trial({"x": 1})
    path = tmp_path / "sweep" / study.STORAGE_FILE
    assert study.describe_storage(None, tmp_path / "sweep") == str(path)
    # a journal file's path is a storage too: the same study, read back
    assert len(optuna.load_study(study_name="s", storage=study.storage(path, tmp_path)).trials) == 1
    url = f"sqlite:///{tmp_path / 'new' / 's.db'}"
    assert study.storage(url, tmp_path) == url
    assert (tmp_path / "new").is_dir()  # SQLite makes the file, not its folder


@pytest.mark.parametrize("status", ["pruned", "completed"])
def test_resume_of_a_run_that_ended_says_there_is_nothing_to_resume(tmp_path, status):
    run_dir = tmp_path / "ended"
    (run_dir / ".hydra").mkdir(parents=True)
    (run_dir / ".hydra" / "overrides.yaml").write_text("- +experiment=smoke\n")
    (run_dir / "metrics.json").write_text(json.dumps({"status": status, "stopped_epoch": 1}))
    before = (run_dir / "metrics.json").read_bytes()
    result = run_in_process(tmp_path, f"resume={run_dir}")
    assert result.returncode == 2
    assert f"is {status}: there is nothing to resume" in result.stderr
    assert (run_dir / "metrics.json").read_bytes() == before
