"""The SIGNS hand-sign data set (0 to 5 fingers, 64x64 RGB).

1080 training and 120 test pictures, 6 classes, from deeplearning.ai's Deep
Learning Specialization (Course 2 week 3, Course 4) and Stanford's CS230.
Two layouts exist in the wild and both are read:

- the course's HDF5 files `train_signs.h5` and `test_signs.h5` (keys
  `train_set_x`, `train_set_y`, `test_set_x`, `test_set_y`,
  `list_classes`);
- CS230's image folders `train_signs/`, `val_signs/`, `test_signs/` of
  `{label}_IMG_{id}.jpg` files (possibly inside `64x64_SIGNS/`); train and
  val together are the course's 1080 training pictures.
"""

import contextlib
import hashlib
import os
import re
import shutil
import tempfile
from pathlib import Path

import numpy as np

ENV_VARIABLE = "KERAS_LRTOOLS_DATA"
NUM_CLASSES = 6
IMAGE_SHAPE = (64, 64, 3)
SIZES = {"train": 1080, "test": 120}
# The course's files; a byte-identical public copy is in the GitHub
# repository DrAlexSanz/CNN-in-TF (branch master).
FILES = {
    "train": (
        "train_signs.h5",
        "47480709d99f2ea6ae428ecc491fc6f65ff1d05336736dd859d5565e0ad3cf74",
        13_281_872,
    ),
    "test": (
        "test_signs.h5",
        "539fb746ed9e947eb244cfca73f4d1b03f9bf5524d609eeed2cd76ddb1b179be",
        1_477_712,
    ),
}
ORIGIN = "https://raw.githubusercontent.com/DrAlexSanz/CNN-in-TF/master/"
FOLDERS = {"train": ("train_signs", "val_signs"), "test": ("test_signs",)}
_IMAGE_NAME = re.compile(r"^([0-9])_IMG_.+\.jpg$", re.IGNORECASE)


class SignsDataError(ValueError):
    """The SIGNS data is missing, incomplete or not what it should be."""


def load_data(data_dir=None, download=True):
    """Loads SIGNS as `(x_train, y_train), (x_test, y_test)`.

    Shaped like `keras.datasets.*.load_data()`: uint8 images of shape
    (N, 64, 64, 3) and int64 labels 0-5; 1080 training and 120 test
    examples.

    Where it looks, in order: `data_dir`; the environment variable
    KERAS_LRTOOLS_DATA; `./data/signs`; the Keras cache
    (`~/.keras/datasets/signs`, or under KERAS_HOME). In each, the course's
    HDF5 pair is used if present, else CS230's image folders. If none has
    the data, the course's HDF5 files are downloaded into the Keras cache
    (with `download=True`), their sha256 checked before they are moved
    there, so a failed download leaves nothing behind.

    Args:
        data_dir: Optional path to a folder in either layout. If given, it
            must exist and hold the data; no other place is tried.
        download: Bool. Whether to download when no copy is found.

    Returns:
        `(x_train, y_train), (x_test, y_test)`.

    Raises:
        SignsDataError: (a ValueError) when no data is found and it cannot
            be downloaded, or the data is corrupt, truncated, of the wrong
            shape, or has bad labels; the message says what was expected
            and where it looked.
    """
    if data_dir is not None:
        if not isinstance(data_dir, (str, os.PathLike)):
            raise TypeError(
                "Argument `data_dir` must be a path. "
                f"Received: data_dir={data_dir!r}"
            )
        folder = Path(data_dir).expanduser()
        if not folder.is_dir():
            raise SignsDataError(
                f"SIGNS data folder {str(folder)!r} (argument `data_dir`) "
                "does not exist."
            )
        return _load_from(folder)
    looked = []
    for folder in _candidate_folders():
        looked.append(str(folder))
        if _layout(folder) is not None:
            return _load_from(folder)
    if not download:
        raise SignsDataError(_not_found_message(looked))
    return _load_from(_download(looked))


def _candidate_folders():
    folders = []
    if os.environ.get(ENV_VARIABLE):
        folders.append(Path(os.environ[ENV_VARIABLE]).expanduser())
    folders.append(Path("data") / "signs")
    folders.append(_cache_folder())
    return folders


def _cache_folder():
    keras_home = os.environ.get("KERAS_HOME", Path.home() / ".keras")
    return Path(keras_home) / "datasets" / "signs"


def _layout(folder):
    """("hdf5", folder) or ("images", folder), or None if neither."""
    if not folder.is_dir():
        return None
    if all((folder / FILES[part][0]).is_file() for part in FILES):
        return "hdf5", folder
    for images in (folder, folder / "64x64_SIGNS"):
        if all(
            (images / name).is_dir()
            for names in FOLDERS.values()
            for name in names
        ):
            return "images", images
    return None


def _load_from(folder):
    layout = _layout(folder)
    if layout is None:
        raise SignsDataError(
            f"No SIGNS data in {str(folder)!r}: expected the course's "
            "train_signs.h5 and test_signs.h5, or CS230's folders "
            "train_signs/, val_signs/ and test_signs/ (possibly inside "
            "64x64_SIGNS/)."
        )
    kind, where = layout
    read = _read_hdf5 if kind == "hdf5" else _read_images
    return read(where, "train"), read(where, "test")


def _read_hdf5(folder, part):
    import h5py

    path = folder / FILES[part][0]
    _verify_course_file(path, part)
    try:
        with h5py.File(path, "r") as data:
            x, y = (
                _dataset(data, f"{part}_set_{axis}", path, h5py)
                for axis in ("x", "y")
            )
    except OSError as error:
        raise SignsDataError(
            f"{str(path)!r} is not a readable SIGNS HDF5 file (expected "
            f"datasets {part}_set_x and {part}_set_y; the course's file is "
            f"{FILES[part][2]:,} bytes with sha256 {FILES[part][1]}). "
            f"Cause: {error}"
        ) from error
    return _checked(x, y, part, str(path))


def _dataset(data, name, path, h5py):
    """The array of dataset `name`, or SignsDataError saying what is wrong."""
    node = data.get(name)
    problem = None
    if node is None:
        problem = "has no dataset"
    elif not isinstance(node, h5py.Dataset):
        problem = f"has a {type(node).__name__.lower()}, not a dataset, as"
    elif node.shape in ((), None) or node.dtype.kind not in "biu":
        problem = (
            f"has a {node.dtype} dataset of shape {node.shape}, not an "
            "integer array, as"
        )
    if problem is not None:
        raise SignsDataError(f"{str(path)!r} {problem} {name!r}.")
    try:
        return np.array(node[:])
    except (TypeError, ValueError) as error:
        raise SignsDataError(
            f"{str(path)!r}: dataset {name!r} cannot be read: {error}"
        ) from error


def _verify_course_file(path, part):
    """A file of the course's name and size must be the course's file."""
    name, sha256, size = FILES[part]
    try:
        if path.stat().st_size != size:
            return  # another file of that name: checked by its contents
    except OSError:
        return  # reported when it is opened
    actual = _sha256(path)
    if actual != sha256:
        raise SignsDataError(
            f"{str(path)!r} has the size of the course's {name} but sha256 "
            f"{actual}, not {sha256}: it is damaged or changed. Restore it, "
            "or delete it and let load_data download a verified copy."
        )


def _read_images(folder, part):
    from PIL import Image

    paths = []
    for name in FOLDERS[part]:
        paths.extend(sorted((folder / name).iterdir()))
    images, labels = [], []
    for path in paths:
        match = _IMAGE_NAME.match(path.name)
        if path.is_dir() or path.name.startswith("."):
            continue
        if match is None:
            raise SignsDataError(
                f"Unexpected file {str(path)!r} in the SIGNS image folders: "
                "expected names like '3_IMG_5123.jpg' (label, then _IMG_)."
            )
        try:
            with Image.open(path) as image:
                images.append(np.asarray(image.convert("RGB"), np.uint8))
        except OSError as error:
            raise SignsDataError(
                f"Cannot read SIGNS image {str(path)!r}: {error}"
            ) from error
        labels.append(int(match.group(1)))
    where = ", ".join(str(folder / name) for name in FOLDERS[part])
    if not images:
        raise SignsDataError(f"No SIGNS images in {where}.")
    shapes = {image.shape for image in images}
    if shapes != {IMAGE_SHAPE}:
        raise SignsDataError(
            f"SIGNS images in {where} must all be 64x64 RGB; found shapes "
            f"{sorted(shapes)}."
        )
    return _checked(np.stack(images), np.array(labels), part, where)


def _checked(x, y, part, where):
    expected = (SIZES[part], *IMAGE_SHAPE)
    if x.shape != expected or x.dtype != np.uint8:
        raise SignsDataError(
            f"SIGNS {part} images from {where} must be uint8 of shape "
            f"{expected}; got {x.dtype} {x.shape}."
        )
    y = np.asarray(y).reshape(-1).astype(np.int64)
    if y.shape != (SIZES[part],):
        raise SignsDataError(
            f"SIGNS {part} labels from {where} must be {SIZES[part]} "
            f"values; got shape {y.shape}."
        )
    if y.min() < 0 or y.max() >= NUM_CLASSES:
        raise SignsDataError(
            f"SIGNS {part} labels from {where} must be in 0..5; got "
            f"{y.min()}..{y.max()}."
        )
    return x, y


def _sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _download(looked):
    import keras

    cache = _cache_folder()
    # Staged beside the cache (same file system), so the final move is an
    # atomic rename and an interrupted download leaves no partial file,
    # nor the folders created for it.
    created = [
        p for p in (cache.parent, *cache.parent.parents) if not p.exists()
    ]
    cache.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(
        tempfile.mkdtemp(prefix=".signs-download-", dir=cache.parent)
    )
    done = False
    try:
        for name, sha256, size in FILES.values():
            try:
                fetched = keras.utils.get_file(
                    fname=name,
                    origin=ORIGIN + name,
                    cache_dir=str(staging),
                    cache_subdir=".",
                )
            except Exception as error:
                raise SignsDataError(
                    _not_found_message(looked)
                    + f" Downloading {ORIGIN + name} failed: {error}"
                ) from error
            actual = _sha256(fetched)
            if actual != sha256:
                raise SignsDataError(
                    f"Downloaded {name} has sha256 {actual}, expected "
                    f"{sha256} ({size:,} bytes); it was discarded."
                )
        cache.mkdir(parents=True, exist_ok=True)
        for name, _, _ in FILES.values():
            os.replace(staging / name, cache / name)
        done = True
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        if not done:
            for folder in created:  # deepest first
                with contextlib.suppress(OSError):
                    folder.rmdir()  # only if still empty
    return cache


def _not_found_message(looked):
    return (
        "SIGNS data not found. Looked in: "
        + ", ".join(repr(p) for p in looked)
        + ". Put the course's train_signs.h5 and test_signs.h5, or CS230's "
        "train_signs/, val_signs/, test_signs/ folders in one of them, or "
        f"set {ENV_VARIABLE} to such a folder."
    )
