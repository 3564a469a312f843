import hashlib
import os
import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest

from keras_lrtools.datasets import signs

SHARED = Path(os.environ["KERAS_LRTOOLS_DATA"])


@pytest.fixture(scope="module")
def image_layout():
    return signs.load_data(SHARED / "64x64_SIGNS")


def test_image_folders_give_the_course_split(image_layout):
    (x, y), (x_test, y_test) = image_layout
    assert x.shape == (1080, 64, 64, 3) and x.dtype == np.uint8
    assert x_test.shape == (120, 64, 64, 3) and x_test.dtype == np.uint8
    assert np.bincount(y).tolist() == [180] * 6
    assert np.bincount(y_test).tolist() == [20] * 6


def test_environment_variable_is_where_it_looks_first(image_layout):
    (x, _), (_, y_test) = signs.load_data(download=False)
    np.testing.assert_array_equal(x, image_layout[0][0])
    np.testing.assert_array_equal(y_test, image_layout[1][1])


def test_the_courses_test_file_has_the_recorded_sha256():
    digest = hashlib.sha256((SHARED / "test_signs.h5").read_bytes())
    assert digest.hexdigest() == signs.FILES["test"][1]


@pytest.fixture
def hdf5_layout(tmp_path, image_layout):
    """The course's layout: the real test_signs.h5, and a train_signs.h5
    written from the real training pictures with the course's keys."""
    (x, y), _ = image_layout
    shutil.copy(SHARED / "test_signs.h5", tmp_path / "test_signs.h5")
    with h5py.File(tmp_path / "train_signs.h5", "w") as file:
        file["train_set_x"] = x
        file["train_set_y"] = y
        file["list_classes"] = np.arange(6)
    return tmp_path


def test_hdf5_layout_reads_the_courses_arrays(hdf5_layout, image_layout):
    (x, _), (x_test, y_test) = signs.load_data(hdf5_layout)
    np.testing.assert_array_equal(x, image_layout[0][0])
    assert x_test.shape == (120, 64, 64, 3) and x_test.dtype == np.uint8
    assert np.bincount(y_test).tolist() == [20] * 6
    # The course's test arrays are the test JPEGs (README: mean squared
    # pixel difference about 20, next nearest about 1000), same labels.
    jpeg_x, jpeg_y = image_layout[1]
    for image, label in zip(x_test[::10], y_test[::10], strict=True):
        errors = ((jpeg_x.astype(float) - image) ** 2).mean(axis=(1, 2, 3))
        assert errors.min() < 100
        assert jpeg_y[int(errors.argmin())] == label


def test_truncated_hdf5_is_refused_with_the_path(hdf5_layout):
    path = hdf5_layout / "test_signs.h5"
    path.write_bytes(path.read_bytes()[:5000])
    with pytest.raises(signs.SignsDataError, match=r"not a readable SIGNS"):
        signs.load_data(hdf5_layout)


def test_a_file_that_is_not_hdf5_is_refused(hdf5_layout):
    (hdf5_layout / "train_signs.h5").write_text("not hdf5")
    with pytest.raises(signs.SignsDataError, match=r"train_signs\.h5"):
        signs.load_data(hdf5_layout)


def test_wrong_shapes_and_labels_are_refused(hdf5_layout):
    with h5py.File(hdf5_layout / "train_signs.h5", "r+") as file:
        labels = file["train_set_y"][:]
        del file["train_set_y"]
        file["train_set_y"] = np.where(labels == 5, 7, labels)
    with pytest.raises(signs.SignsDataError, match=r"labels .* 0\.\.5"):
        signs.load_data(hdf5_layout)
    with h5py.File(hdf5_layout / "train_signs.h5", "r+") as file:
        images = file["train_set_x"][:]
        del file["train_set_x"]
        file["train_set_x"] = images[:, :32]
    with pytest.raises(signs.SignsDataError, match=r"uint8 of shape"):
        signs.load_data(hdf5_layout)


def test_misnamed_or_missing_images_are_refused(tmp_path):
    folder = tmp_path / "64x64_SIGNS"
    shutil.copytree(SHARED / "64x64_SIGNS", folder)
    victim = sorted((folder / "test_signs").iterdir())[0]
    victim.rename(folder / "test_signs" / "hand.jpg")
    with pytest.raises(signs.SignsDataError, match=r"hand.jpg.*'3_IMG_5123"):
        signs.load_data(folder)
    (folder / "test_signs" / "hand.jpg").unlink()
    with pytest.raises(signs.SignsDataError, match=r"\(120, 64, 64, 3\)"):
        signs.load_data(folder)


def test_missing_folder_and_no_data(tmp_path, monkeypatch):
    with pytest.raises(signs.SignsDataError, match="does not exist"):
        signs.load_data(tmp_path / "nowhere")
    with pytest.raises(signs.SignsDataError, match="No SIGNS data in"):
        signs.load_data(tmp_path)
    monkeypatch.setenv("KERAS_LRTOOLS_DATA", str(tmp_path / "empty"))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.chdir(tmp_path)
    with pytest.raises(signs.SignsDataError, match=r"Looked in: .*empty"):
        signs.load_data(download=False)


def _fake_get_file(content, fail=False):
    def get_file(fname, origin, cache_dir, cache_subdir):
        path = Path(cache_dir) / cache_subdir / fname
        path.write_bytes(content)  # a partial file, as a broken download
        if fail:
            raise OSError("connection reset")
        return str(path)

    return get_file


@pytest.mark.parametrize("fail", [True, False], ids=["broken", "bad-hash"])
def test_a_failed_download_leaves_nothing_in_the_cache(
    tmp_path, monkeypatch, fail
):
    import keras

    monkeypatch.setenv("KERAS_LRTOOLS_DATA", str(tmp_path / "empty"))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(
        keras.utils, "get_file", _fake_get_file(b"partial", fail)
    )
    pattern = "connection reset" if fail else "sha256 .* expected"
    with pytest.raises(signs.SignsDataError, match=pattern):
        signs.load_data()
    # Not even the folders made for it stay behind.
    assert not (tmp_path / "keras").exists()


def test_a_verified_download_lands_in_the_cache(tmp_path, monkeypatch):
    import keras

    monkeypatch.setenv("KERAS_LRTOOLS_DATA", str(tmp_path / "empty"))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.chdir(tmp_path)
    real = (SHARED / "test_signs.h5").read_bytes()
    monkeypatch.setattr(
        signs,
        "FILES",
        {
            "train": ("train_signs.h5", hashlib.sha256(real).hexdigest(), 0),
            "test": ("test_signs.h5", hashlib.sha256(real).hexdigest(), 0),
        },
    )
    monkeypatch.setattr(keras.utils, "get_file", _fake_get_file(real))
    # Both "files" are the test file, so the train part has the wrong
    # shape: the download succeeded and is kept, the content is refused.
    with pytest.raises(signs.SignsDataError, match="train_set_x"):
        signs.load_data()
    cache = tmp_path / "keras" / "datasets" / "signs"
    assert sorted(p.name for p in cache.iterdir()) == [
        "test_signs.h5",
        "train_signs.h5",
    ]


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda f: f.create_dataset("train_set_y", data=3), "not an integer"),
        (lambda f: f.create_group("train_set_y"), "a group, not a dataset"),
        (lambda f: None, "has no dataset 'train_set_y'"),
        (
            lambda f: f.create_dataset("train_set_y", data=np.zeros(1080)),
            "float64 dataset",
        ),
    ],
)
def test_a_malformed_dataset_is_named_with_the_file(hdf5_layout, make, message):
    path = hdf5_layout / "train_signs.h5"
    with h5py.File(path, "r+") as file:
        del file["train_set_y"]
        make(file)
    with pytest.raises(signs.SignsDataError) as raised:
        signs.load_data(hdf5_layout)
    assert str(path) in str(raised.value) and message in str(raised.value)


def test_a_changed_course_file_fails_its_checksum(hdf5_layout):
    """The real test_signs.h5 with a few pixels overwritten in place:
    same size, same structure, another sha256."""
    signs.load_data(hdf5_layout)  # the course's file loads
    path = hdf5_layout / "test_signs.h5"
    with h5py.File(path, "r+") as file:
        file["test_set_x"][0, 0, 0] = 255 - file["test_set_x"][0, 0, 0]
    assert path.stat().st_size == signs.FILES["test"][2]
    with pytest.raises(signs.SignsDataError) as raised:
        signs.load_data(hdf5_layout)
    assert str(path) in str(raised.value)
    assert "damaged or changed" in str(raised.value)
