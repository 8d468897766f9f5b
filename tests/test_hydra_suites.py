"""Our plugins against tests no one here wrote: Hydra's own conformance suites
(hydra.test_utils.launcher_common_tests, parametrized as Hydra's and its plugins' tests
do) on plain Hydra apps, with our plugins installed beside Hydra's.

- Hydra's basic sweeper and the basic and joblib launchers pass as they do without us:
  `hydra/sweeper=basic` is still Hydra's.
- Our grid sweeper (`hydra/sweeper=grid`) passes the launcher suites with both
  launchers, and the batched-sweeper suite; our Ray launcher
  (`hydra/launcher=mnist_exp_ray`) passes the launcher suite.
- Our Optuna sweeper (`hydra/sweeper=optuna_search`) on plain apps, ported from
  hydra-optuna-sweeper 1.3's own tests (plugins/hydra_optuna_sweeper/tests in Hydra's
  repository): a sweep of Hydra's test app, the sphere example with the TPE, grid and
  random samplers, two objectives, and max_failure_rate. Theirs that do not apply:
  `custom_search_space` (a config names no code to run here: refused, tested in
  test_search.py), the `motpe` sampler's removal (never offered), and their
  `_impl`-level parsing tests (ours: test_search.py's search-space tests).
- Importing our plugins, as Hydra's plugin scan does for every app, adds names of our
  own only, replaces none, registers no resolver and imports no TensorFlow.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from hydra.core.singleton import Singleton
from hydra.test_utils.launcher_common_tests import (
    BatchedSweeperTestSuite,
    IntegrationTestSuite,
    LauncherTestSuite,
)
from hydra.version import VersionBase
from omegaconf import OmegaConf

from tests.helpers import ROOT

GRID = ["hydra/sweeper=grid"]


@pytest.fixture(autouse=True)
def version_base_as_in_a_new_process():
    """Hydra's suites' apps set no version_base and so read Hydra's process-wide one:
    unset in Hydra's own test runs (1.1's defaults: each job in its own working
    directory), whatever mnist-exp's tests set before in this process (1.3)."""
    state = Singleton.get_state()
    instances = {kind: i for kind, i in state["instances"].items() if kind is not VersionBase}
    Singleton.set_state({**state, "instances": instances})  # a new one when first asked
    yield
    Singleton.set_state(state)


# Hydra's suites run apps without version_base, as Hydra's own tests do
pytestmark = pytest.mark.filterwarnings("ignore:Future Hydra versions:UserWarning")


@pytest.mark.parametrize(
    "launcher_name, overrides",
    [
        pytest.param("basic", [], id="hydra-basic-sweeper-basic-launcher"),
        pytest.param("joblib", [], id="hydra-basic-sweeper-joblib"),
        pytest.param("basic", GRID, id="grid-basic-launcher"),
        pytest.param("joblib", GRID, id="grid-joblib"),
    ],
)
class TestLaunchers(LauncherTestSuite):
    if hasattr(LauncherTestSuite, "test_failure_preserves_task_traceback"):  # Hydra 1.4

        def test_failure_preserves_task_traceback(
            self, hydra_sweep_runner, launcher_name, overrides, tmpdir
        ) -> None:
            """A job's exception keeps the task's frames: not with hydra-joblib-launcher
            1.2.0, under Hydra's own sweeper as under ours."""
            if launcher_name == "joblib":
                pytest.xfail("hydra-joblib-launcher 1.2.0 returns a job's error without its frames")
            super().test_failure_preserves_task_traceback(
                hydra_sweep_runner, launcher_name, overrides, tmpdir
            )


@pytest.mark.parametrize(
    "task_launcher_cfg, extra_flags",
    [
        pytest.param(
            {},
            ["-m", "hydra/launcher=basic", "hydra/hydra_logging=disabled"],
            id="hydra-basic-sweeper-basic-launcher",
        ),
        pytest.param(
            {},
            ["-m", *GRID, "hydra/launcher=basic", "hydra/hydra_logging=disabled"],
            id="grid-basic-launcher",
        ),
        pytest.param(
            {},
            ["-m", *GRID, "hydra/launcher=joblib", "hydra/job_logging=disabled"],
            id="grid-joblib",
        ),
    ],
)
@pytest.mark.slow  # each case runs Hydra's test apps as processes of their own
class TestLaunchersIntegration(IntegrationTestSuite):
    pass


@pytest.mark.parametrize(
    "launcher_name, overrides",
    [
        pytest.param(
            "basic", ["hydra/sweeper=basic", "hydra.sweeper.max_batch_size=2"], id="hydra"
        ),
        pytest.param("basic", [*GRID, "hydra.sweeper.max_batch_size=2"], id="grid-basic"),
        pytest.param("joblib", [*GRID, "hydra.sweeper.max_batch_size=2"], id="grid-joblib"),
    ],
)
class TestBatchedSweeper(BatchedSweeperTestSuite):
    pass


@pytest.fixture(scope="class")
def ray_files(tmp_path_factory):
    """One local Ray instance for the class's sweeps (the launcher keeps it for the
    process), its files in tmp, stopped afterwards."""
    pytest.importorskip("ray")
    from hydra_plugins.mnist_exp_ray_launcher import _core

    folder = tmp_path_factory.mktemp("ray")
    yield folder
    _core.stop()


@pytest.mark.slow
@pytest.mark.usefixtures("ray_files")
class TestRayLauncher(LauncherTestSuite):
    @pytest.fixture
    def launcher_name(self):
        return "mnist_exp_ray"

    @pytest.fixture
    def overrides(self, ray_files):
        return [
            f"hydra.launcher.local.temp_dir={ray_files}",
            "hydra.launcher.local.num_cpus=2",
        ]


# -- hydra-optuna-sweeper 1.3's tests, ported to hydra/sweeper=optuna_search -------------


def test_optuna_search_sweeps_hydras_test_app(hydra_sweep_runner) -> None:
    sweep = hydra_sweep_runner(
        calling_file=None,
        calling_module="hydra.test_utils.a_module",
        config_path="configs",
        config_name="compose.yaml",
        task_function=None,
        overrides=[
            "hydra/sweeper=optuna_search",
            "hydra/launcher=basic",
            "hydra.sweeper.n_trials=8",
            "hydra.sweeper.n_jobs=3",
        ],
    )
    with sweep:
        assert sweep.returns is None


# hydra-optuna-sweeper's example/sphere.py and its config, as a plain Hydra app
SPHERE = """\
import hydra
from omegaconf import DictConfig


@hydra.main(version_base=None, config_path=".", config_name="config")
def sphere(cfg: DictConfig) -> float:
    if cfg.get("error", False):
        raise RuntimeError("cfg.error is True")
    return float(cfg.x) ** 2 + float(cfg.y) ** 2


if __name__ == "__main__":
    sphere()
"""
SPHERE_CONFIG = """\
defaults:
  - override hydra/sweeper: optuna_search
  - override hydra/sweeper/optuna_sampler: tpe
hydra:
  sweeper:
    sampler:
      seed: 123
    direction: minimize
    study_name: sphere
    storage: null
    n_trials: 20
    n_jobs: 1
    params:
      x: range(-5.5, 5.5, step=0.5)
      y: choice(-5, 0, 5)
x: 1
y: 1
z: 1
error: false
"""
# the two objectives of its example/multi-objective.py
MULTI = """\
import hydra
from omegaconf import DictConfig


@hydra.main(version_base=None, config_path=".", config_name="config")
def binh_and_korn(cfg: DictConfig) -> tuple[float, float]:
    x, y = float(cfg.x), float(cfg.y)
    return 4 * x**2 + 4 * y**2, (x - 5) ** 2 + (y - 5) ** 2


if __name__ == "__main__":
    binh_and_korn()
"""
MULTI_CONFIG = """\
defaults:
  - override hydra/sweeper: optuna_search
  - override hydra/sweeper/optuna_sampler: nsgaii
hydra:
  sweeper:
    sampler:
      seed: 123
    direction: [minimize, minimize]
    n_trials: 20
    n_jobs: 1
    params:
      x: range(0, 5, step=0.5)
      y: range(0, 3, step=0.5)
x: 1
y: 1
"""
# its tests/conf/test_grid.yaml
GRID_CONFIG = """\
defaults:
  - override hydra/sweeper: optuna_search
  - override hydra/sweeper/optuna_sampler: grid
hydra:
  sweeper:
    direction: minimize
    n_trials: 12
    n_jobs: 1
    params:
      x: choice(-1, 1)
      y: range(-1.0, 1.0, step=1)
      z: choice("foo", "bar")
x: 1
y: 1
z: foo
"""


def plain_app(tmp_path: Path, script: str, config: str, *overrides: str):
    """A plain Hydra app written into tmp_path and swept: (results, the process)."""
    app = tmp_path / "app"
    app.mkdir()
    (app / "my_app.py").write_text(script)
    (app / "config.yaml").write_text(config)
    sweep_dir = tmp_path / "sweep"
    args = [sys.executable, str(app / "my_app.py"), "--multirun", f"hydra.sweep.dir={sweep_dir}"]
    result = subprocess.run(
        [*args, "hydra.job.chdir=True", *overrides],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    results = sweep_dir / "optimization_results.yaml"
    return (OmegaConf.load(results) if results.is_file() else None), result


@pytest.mark.slow
@pytest.mark.parametrize("with_commandline", [True, False])
def test_optuna_search_minimizes_the_sphere(tmp_path, with_commandline) -> None:
    storage = f"sqlite:///{tmp_path / 'test.db'}"
    more = ["x=choice(0, 1, 2)", "y=0"] if with_commandline else []
    returns, result = plain_app(
        tmp_path,
        SPHERE,
        SPHERE_CONFIG,
        f"hydra.sweeper.storage={storage}",
        "hydra.sweeper.study_name=test-optuna-example",
        "~z",
        *more,
    )
    assert returns is not None, result.stderr[-3000:]
    import optuna

    best = optuna.load_study(storage=storage, study_name="test-optuna-example").best_trial
    assert returns.name == "optuna"
    assert returns.best_params.x == best.params["x"]
    if with_commandline:
        assert "y" not in returns.best_params and "y" not in best.params
    else:
        assert returns.best_params.y == best.params["y"]
    assert returns.best_value == best.value
    # their threshold: the 95th percentile of TPE's best value over 1000 seeds
    assert returns.best_value <= 2.27
    # a plain app's jobs are left as Hydra leaves them: nothing of mnist-exp's in them
    assert not list((tmp_path / "sweep").glob("*/metrics.json"))


@pytest.mark.slow
@pytest.mark.parametrize("num_trials", [10, 1])
def test_optuna_search_grid_sampler(tmp_path, num_trials) -> None:
    returns, result = plain_app(
        tmp_path, SPHERE, GRID_CONFIG, f"hydra.sweeper.n_trials={num_trials}"
    )
    assert returns is not None, result.stderr[-3000:]
    best = returns.best_params
    assert best.x in (-1, 1) and best.y in (-1, 0) and best.z in ("foo", "bar")


@pytest.mark.slow
def test_optuna_search_two_objectives(tmp_path) -> None:
    returns, result = plain_app(tmp_path, MULTI, MULTI_CONFIG, "x=range(0, 5)", "y=range(0, 3)")
    assert returns is not None, result.stderr[-3000:]
    assert returns.name == "optuna" and len(returns.solutions) >= 1
    for a in returns.solutions:
        assert a.params.x % 1 == 0 and a.params.y % 1 == 0
        for b in returns.solutions:  # the front: no solution dominates another
            pairs = list(zip(a["values"], b["values"], strict=True))
            assert not (all(x <= y for x, y in pairs) and any(x < y for x, y in pairs))


@pytest.mark.slow
@pytest.mark.parametrize("max_failure_rate", [0.5, 1.0])
def test_optuna_search_max_failure_rate(tmp_path, max_failure_rate) -> None:
    _, result = plain_app(
        tmp_path,
        SPHERE,
        SPHERE_CONFIG,
        "hydra.sweeper.n_trials=6",
        "hydra.sweeper.n_jobs=2",
        "hydra/sweeper/optuna_sampler=random",
        f"hydra.sweeper.max_failure_rate={max_failure_rate}",
        "error=true",
    )
    if max_failure_rate < 1.0:
        assert "RuntimeError: cfg.error is True" in result.stderr
        assert result.returncode != 0
    else:
        assert "RuntimeError: cfg.error is True" not in result.stderr
        assert result.returncode == 0, result.stderr[-3000:]


# -- a good neighbour ------------------------------------------------------------------

# Hydra's plugin scan with and without our plugins, in fresh processes: what the store
# holds, which resolvers exist, what was imported.
SCAN = """\
import json, sys
import hydra_plugins
import hydra.core.plugins
if sys.argv[1] == "without":  # neither the folder Hydra 1.3 scans nor the entry points of 1.4
    hydra_plugins.__path__ = [p for p in hydra_plugins.__path__ if not p.startswith(sys.argv[2])]
    if hasattr(hydra.core.plugins, "entry_points"):
        found = hydra.core.plugins.entry_points
        hydra.core.plugins.entry_points = lambda **kw: [
            e for e in found(**kw) if not e.value.startswith("hydra_plugins.mnist_exp_")
        ]
from hydra.core.config_store import ConfigStore
from hydra.core.plugins import Plugins
from omegaconf import OmegaConf
from omegaconf.basecontainer import BaseContainer

Plugins.instance()

def walk(node, path=""):
    for key, value in node.items():
        if isinstance(value, dict):
            yield from walk(value, path + key + "/")
        else:
            yield path + key, f"{value.provider}:{OmegaConf.to_yaml(value.node)}"

print(json.dumps({
    "store": dict(walk(ConfigStore.instance().repo)),
    "resolvers": sorted(BaseContainer._resolvers),
    "modules": sorted(m.split(".")[0] for m in sys.modules),
}))
"""


def scanned(which: str) -> dict:
    result = subprocess.run(
        [sys.executable, "-c", SCAN, which, str(ROOT / "hydra_plugins")],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return json.loads(result.stdout)


def test_our_plugins_add_names_of_their_own_and_change_nothing_else() -> None:
    without, with_ours = scanned("without"), scanned("with")
    added = set(with_ours["store"]) - set(without["store"])
    assert added == {
        "hydra/sweeper/grid.yaml",
        "hydra/sweeper/optuna_search.yaml",
        *(f"hydra/sweeper/optuna_sampler/{s}.yaml" for s in ("tpe", "random", "grid", "nsgaii")),
        *(
            f"hydra/sweeper/optuna_pruner/{p}.yaml"
            for p in ("none", "median", "hyperband", "successive_halving")
        ),
        "hydra/launcher/mnist_exp_ray.yaml",
    }
    # every name another package registered holds what it held without us
    assert {k: with_ours["store"][k] for k in without["store"]} == without["store"]
    assert with_ours["store"]["hydra/sweeper/basic.yaml"].startswith("hydra:")
    assert with_ours["resolvers"] == without["resolvers"]
    heavy = {"tensorflow", "keras", "ray", "pandas", "matplotlib", "mlflow"}
    assert heavy & set(with_ours["modules"]) == set()


def test_a_plain_app_gets_hydras_basic_sweeper_by_default(tmp_path) -> None:
    """Without a sweeper named, another app sweeps with Hydra's own, as without us."""
    app = tmp_path / "my_app.py"
    app.write_text(
        textwrap.dedent(
            """\
            import hydra
            from hydra.core.hydra_config import HydraConfig

            @hydra.main(version_base=None, config_path=None)
            def main(cfg):
                print("sweeper:", HydraConfig.get().sweeper._target_)

            main()
            """
        )
    )
    result = subprocess.run(
        [sys.executable, str(app), "-m", "+a=1,2", f"hydra.sweep.dir={tmp_path / 'sweep'}"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    basic = "sweeper: hydra._internal.core_plugins.basic_sweeper.BasicSweeper"
    assert result.stdout.count(basic) == 2, result.stdout


def test_each_plugin_class_of_ours_has_the_entry_point_hydra_1_4_looks_for():
    """Hydra 1.4 finds plugins by entry points (group hydra.plugins); 1.3 by scanning the
    hydra_plugins folder, where the same classes live."""
    from importlib.metadata import entry_points

    from hydra.core.plugins import Plugins
    from hydra.plugins.plugin import Plugin

    ours = {
        e.name: e.load()
        for e in entry_points(group="hydra.plugins")
        if e.value.startswith("hydra_plugins.mnist_exp_")
    }
    assert sorted(ours) == sorted(p.name for p in (ROOT / "hydra_plugins").glob("mnist_exp_*"))
    for name, plugin in ours.items():
        assert isinstance(plugin, type) and issubclass(plugin, Plugin), name
        assert plugin.__module__.startswith(f"hydra_plugins.{name}."), name
    scanned = {
        f"{c.__module__}.{c.__name__}" for c in Plugins.instance().class_name_to_class.values()
    }
    assert {f"{c.__module__}.{c.__name__}" for c in ours.values()} <= scanned
