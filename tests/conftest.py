import importlib.util
import os


def _pin_threads():
    """pytest -n N: each worker gets its share of the cores (the recipe's
    signs_threads), set before any backend starts: PyTorch's default
    threads run 30x slower when oversubscribed."""
    path = os.path.join(
        os.path.dirname(__file__), "..", "recipes", "signs_threads.py"
    )
    spec = importlib.util.spec_from_file_location("signs_threads", path)
    threads = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(threads)
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", 1))
    threads.pin(threads.share(workers))


_pin_threads()

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402


def pytest_report_header(config):
    return (
        f"keras_lrtools tests: KERAS_BACKEND={keras.backend.backend()}, "
        f"keras {keras.__version__}"
    )


@pytest.fixture(autouse=True)
def _seed():
    keras.utils.set_random_seed(1234)
    np.random.seed(1234)
    yield


@pytest.fixture(autouse=True)
def _interactive_logging():
    """Every test starts with Keras's default (interactive) logging.

    Some of Keras's own tests (tests/conformance) turn it off and leave it
    off, which would send later tests' callback messages to `logging`.
    """
    keras.config.enable_interactive_logging()
    yield
    keras.config.enable_interactive_logging()


@pytest.fixture
def backend():
    return keras.backend.backend()


# The real SIGNS data: KERAS_LRTOOLS_DATA (set by .ci/run), or the shared
# folder beside the checkout. Tests never download it.
_SHARED_SIGNS = os.path.join(
    os.path.dirname(__file__), "..", "..", "shared", "datasets", "signs"
)
if not os.environ.get("KERAS_LRTOOLS_DATA") and os.path.isdir(_SHARED_SIGNS):
    os.environ["KERAS_LRTOOLS_DATA"] = os.path.abspath(_SHARED_SIGNS)


@pytest.fixture(scope="session")
def signs():
    """SIGNS as float32 images in [0, 1] and int labels."""
    from keras_lrtools.datasets import signs as signs_module

    (x, y), (x_test, y_test) = signs_module.load_data(download=False)
    return (
        (x.astype("float32") / 255.0, y),
        (x_test.astype("float32") / 255.0, y_test),
    )


def course_mlp(learning_rate, steps_per_execution=34, seed=1):
    """The course's network: Flatten, Dense 25 relu, 12 relu, 6 softmax."""
    keras.utils.set_random_seed(seed)
    model = keras.Sequential(
        [
            keras.Input((64, 64, 3)),
            keras.layers.Flatten(),
            keras.layers.Dense(25, activation="relu", name="relu_25"),
            keras.layers.Dense(12, activation="relu", name="relu_12"),
            keras.layers.Dense(6, activation="softmax", name="softmax_6"),
        ]
    )
    if keras.backend.backend() == "torch":
        steps_per_execution = 1
    model.compile(
        keras.optimizers.Adam(learning_rate),
        "sparse_categorical_crossentropy",
        metrics=["accuracy"],
        steps_per_execution=steps_per_execution,
    )
    return model


def pytest_terminal_summary(terminalreporter):
    """Prints how many bad-input cases the reliability suite checked."""
    reports = terminalreporter.stats.get("passed", [])
    for report in reports:
        for key, value in getattr(report, "user_properties", []):
            if key == "bad_input_cases":
                terminalreporter.write_line(
                    f"bad-input cases checked: {value} (every public "
                    "constructor and function)"
                )
