"""What mnist-exp takes from its libraries' internals (mnist_exp/adapters/): each touch
point, checked as mnist-exp uses it. A failure here after a version bump names what
moved."""

from __future__ import annotations

import subprocess
import sys
import warnings

import pytest


def test_hydras_basic_sweeper_and_launcher_are_where_the_adapter_takes_them():
    from hydra.core.plugins import Plugins
    from hydra.plugins.launcher import Launcher
    from hydra.plugins.sweeper import Sweeper

    from mnist_exp.adapters.hydra import BasicLauncher, BasicSweeper

    assert issubclass(BasicSweeper, Sweeper) and issubclass(BasicLauncher, Launcher)
    # the grid sweeper's batching and resume's job count: the cartesian product, in batches
    from hydra.core.override_parser.overrides_parser import OverridesParser

    parsed = OverridesParser.create().parse_overrides(["a=1,2", "b=x,y,z"])
    batches = BasicSweeper.split_arguments(parsed, 4)
    assert [len(batch) for batch in batches] == [4, 2]
    assert batches[0][0] == ["a=1", "b=x"]
    # Hydra still knows them by their names: ours extend, never replace, its basic
    names = {p.__name__ for p in Plugins.instance().discover(Sweeper)}
    assert {"BasicSweeper", "GridSweeper"} <= names


def test_the_caching_repo_lists_the_groups_and_options_hydras_loader_lists():
    from hydra.core.global_hydra import GlobalHydra
    from hydra.core.object_type import ObjectType

    from mnist_exp.adapters.hydra import VERSION_BASE, caching_repo
    from mnist_exp.app.store import register

    register()
    with __import__("hydra").initialize_config_module(
        config_module="mnist_exp.conf", **VERSION_BASE
    ):
        loader = GlobalHydra.instance().config_loader()
        repo = caching_repo(loader)
        assert repo is not None, "Hydra's loader no longer makes a caching repo"
        for group in ("optimizer", "model", "hydra/sweeper"):
            assert repo.get_group_options(group, ObjectType.CONFIG) == loader.get_group_options(
                group
            )


def test_hydras_parser_and_flags_text_are_where_the_adapter_takes_them():
    from mnist_exp.adapters.hydra import args_parser, flags_help

    parser = args_parser()
    args = parser.parse_args(["--help", "--config-dir", "d", "-cn", "c", "model=cnn"])
    assert (args.help, args.hydra_help) == (True, False)
    assert (args.config_dir, args.config_name) == ("d", "c")
    assert (args.config_path, args.resolve, args.overrides) == (None, False, ["model=cnn"])
    text = flags_help(parser)
    assert "--hydra-help : Hydra's help" in text
    assert text.splitlines()[-1].startswith("Overrides : ")


def test_optuna_ids_name_the_study_and_trial_in_their_storage():
    optuna = pytest.importorskip("optuna")
    from mnist_exp.adapters.optuna import study_id, trial_id

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = optuna.storages.InMemoryStorage()
    study = optuna.create_study(storage=storage, study_name="s")
    trial = study.ask()
    assert storage.get_study_name_from_id(study_id(study)) == "s"
    frozen = study.trials[0]
    assert trial_id(frozen) == trial_id(trial)
    again = optuna.trial.Trial(study, trial_id(frozen))  # how a retried trial is reopened
    assert again.number == trial.number == 0


def test_atexit_hooks_run_once_when_asked(tmp_path):
    script = (
        "import atexit, os, sys\n"
        "from mnist_exp.adapters.python import run_exit_hooks\n"
        "atexit.register(lambda: print('hook'))\n"
        "run_exit_hooks()\n"
        "sys.stdout.flush()\n"
        "os._exit(3)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert (done.returncode, done.stdout) == (3, "hook\n")


def test_keras_models_take_jit_compile_as_a_public_switch():
    keras = pytest.importorskip("keras")
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    with warnings.catch_warnings():  # a CPU-only Keras may turn XLA down, with a warning
        warnings.simplefilter("ignore", UserWarning)
        model.compile(loss="mse", jit_compile=True)
    model.jit_compile = False
    assert model.jit_compile is False


def test_the_adapter_gives_the_class_hydra_uses_after_its_plugin_scan_runs_it_again(
    monkeypatch,
):
    from hydra._internal.core_plugins import basic_sweeper

    from mnist_exp.adapters import hydra as hydra_internals

    # Hydra's plugin scan runs the module again (load_module): a new class by that name
    rerun = type("BasicSweeper", (basic_sweeper.BasicSweeper,), {})
    monkeypatch.setattr(basic_sweeper, "BasicSweeper", rerun)
    assert hydra_internals.BasicSweeper is rerun


def test_the_grid_sweeper_takes_from_hydras_basic_sweeper_what_it_sets_and_offers():
    from mnist_exp.adapters.hydra import BasicSweeper

    sweeper = BasicSweeper(max_batch_size=3, params={"a": "1,2"})
    assert (sweeper.max_batch_size, dict(sweeper.params)) == (3, {"a": "1,2"})
    assert dict(BasicSweeper(max_batch_size=None).params) == {}  # none given: empty
    for name in ("setup", "sweep", "split_arguments", "is_done", "get_job_batch"):
        assert callable(getattr(BasicSweeper, name)), name


def test_a_job_return_built_by_hand_takes_its_value_through_the_public_setter():
    from hydra.core.utils import JobReturn, JobStatus

    ret = JobReturn(overrides=["a=1"], status=JobStatus.COMPLETED)
    ret.return_value = [0.5, 1.0]
    assert ret.return_value == [0.5, 1.0]


def test_keras_callbacks_keep_the_counters_a_checkpoint_saves_under_these_names():
    keras = pytest.importorskip("keras")
    from mnist_exp.training.callbacks.early_stopping import EarlyStopping
    from mnist_exp.training.callbacks.reduce_lr import ReduceLROnPlateau

    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    for callback in (EarlyStopping(monitor="loss"), ReduceLROnPlateau(monitor="loss")):
        callback.set_model(model)
        callback.on_train_begin()
        callback.on_epoch_end(0, {"loss": 1.0})
        state, _ = callback.checkpoint_state()  # every name in STATE, read as Keras keeps it
        assert set(state) == set(callback.STATE)
        assert state["best"] == 1.0 and state["wait"] == 0, (type(callback).__name__, state)


def test_keras_models_rebuild_their_step_functions_once_cleared():
    keras = pytest.importorskip("keras")
    np = pytest.importorskip("numpy")
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    x, y = np.zeros((4, 2), "float32"), np.zeros((4, 1), "float32")
    model.fit(x, y, verbose=0)
    model.evaluate(x, y, verbose=0)
    model.predict(x, verbose=0)
    assert None not in (model.train_function, model.test_function, model.predict_function)
    calls = []
    step = model.train_step
    model.train_step = lambda data: calls.append(1) or step(data)  # what speed.apply swaps in
    model.train_function = model.test_function = model.predict_function = None  # as speed.py
    model.fit(x, y, verbose=0)
    assert calls, "fit kept its old train function: a cleared one is no longer rebuilt"


def test_submitits_slurm_watcher_keeps_the_hook_and_job_sets_our_queue_watcher_extends():
    # sweeps/slurm.py's QueueWatcher overrides SlurmInfoWatcher._make_command (submitit
    # has no public hook for how states are asked) and reads its _registered, _finished
    pytest.importorskip("submitit")
    from submitit.core.core import InfoWatcher
    from submitit.slurm.slurm import SlurmInfoWatcher

    from mnist_exp.sweeps.slurm import QueueWatcher

    assert QueueWatcher._make_command is not SlurmInfoWatcher._make_command
    assert InfoWatcher._make_command is not SlurmInfoWatcher._make_command
    watcher = SlurmInfoWatcher(delay_s=60)
    assert watcher._make_command() is None  # nothing registered: nothing to ask
    watcher.register_job("12_3")
    assert (watcher._registered, watcher._finished) == ({"12_3"}, set())
    assert watcher._make_command() == [
        "sacct",
        "-o",
        "JobID,State,NodeList",
        "--parsable2",
        "-j",
        "12",
    ]


# -- what differs between Hydra 1.3 and 1.4, OmegaConf 2.3 and 2.4 ----------------------


def test_hydra_refuses_a_target_outside_the_modules_where_it_takes_a_whitelist():
    """On Hydra 1.4 the allow-list is Hydra's own check too; on 1.3 ours is the only one
    (config/targets.py), and the adapter builds what it is given."""
    from hydra.errors import InstantiationException

    from mnist_exp.adapters import hydra as adapter
    from mnist_exp.config.targets import RETURNS, TARGETS

    modules = TARGETS["optimizer"]
    optimizer = adapter.instantiate({"_target_": "keras.optimizers.SGD"}, modules)
    assert type(optimizer).__name__ == "SGD"  # Keras' public name, defined in keras.src
    schedule = {"_target_": "keras.optimizers.schedules.CosineDecay"}
    schedule.update(initial_learning_rate=0.1, decay_steps=10)
    returned = TARGETS["schedule"] + RETURNS["schedule"]
    assert adapter.instantiate(schedule, returned)(0) > 0  # a schedule: a callable result
    foreign = {"_target_": "os.getcwd"}
    if adapter.WHITELISTS:
        with pytest.raises(InstantiationException, match="whitelist"):
            adapter.instantiate(foreign, modules)
    else:
        assert adapter.HYDRA < (1, 4)
        assert adapter.instantiate(foreign, modules)  # what targets.check_targets refuses


def test_storing_and_registering_again_is_quiet_on_every_version():
    """A second run in one process stores every schema again: no warning (Hydra 1.4
    warns on a collision unless told to replace; OmegaConf 2.4 on register_new_resolver)."""
    from omegaconf import OmegaConf

    from mnist_exp.app.store import register

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        register()
        register()
    assert OmegaConf.has_resolver("mnist_exp_groups")


def test_hydra_main_and_initialize_get_version_base_only_where_it_is_not_deprecated():
    import hydra

    from mnist_exp.adapters import hydra as adapter

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        adapter.main("pkg://mnist_exp.conf", "config", ("mnist_exp.sweeps.callbacks",))
        with hydra.initialize_config_module("mnist_exp.conf", **adapter.VERSION_BASE):
            pass
