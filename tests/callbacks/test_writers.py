"""The hand-encoded event files against tensorboard's own encoder and reader."""

import os
import random

import numpy as np
import pytest
from tensorboard.compat.proto import event_pb2
from tensorboard.compat.proto import summary_pb2
from tensorboard.compat.proto import tensor_pb2
from tensorboard.compat.proto import tensor_shape_pb2
from tensorboard.compat.proto import types_pb2
from tensorboard.compat.tensorflow_stub.pywrap_tensorflow import masked_crc32c
from tensorboard.plugins.scalar import metadata
from tensorboard.summary.writer.event_file_writer import EventFileWriter

from keras_lrtools.callbacks._writers import ScalarWriter
from keras_lrtools.callbacks._writers import crc32c
from keras_lrtools.callbacks._writers import masked_crc
from tests.callbacks.helpers import read_scalars


@pytest.mark.parametrize("count", [1, 15, 16, 200])
def test_crc_matches_tensorboards_for_each_record(count):
    rng = random.Random(count)
    # Past the positional tables' reach (4096 bytes) the CRC is looped.
    lengths = [0, 1, 12, 57, 300, 4095, 4096, 4097, 6000]
    records = [os.urandom(rng.choice(lengths)) for _ in range(count)]
    assert [masked_crc(c) for c in crc32c(records)] == [
        masked_crc32c(r) for r in records
    ]


def _reference_event(step, values, wall_time):
    summary_metadata = metadata.create_summary_metadata(
        display_name=None, description=None
    )
    return event_pb2.Event(
        wall_time=wall_time,
        step=step,
        summary=summary_pb2.Summary(
            value=[
                summary_pb2.Summary.Value(
                    tag=tag,
                    metadata=summary_metadata,
                    tensor=tensor_pb2.TensorProto(
                        dtype=types_pb2.DT_FLOAT,
                        tensor_shape=tensor_shape_pb2.TensorShapeProto(),
                        float_val=[value],
                    ),
                )
                for tag, value in values.items()
            ]
        ),
    )


def test_file_has_the_bytes_of_tensorboards_own_writer(tmp_path):
    """Same events through tensorboard's EventFileWriter: same records."""
    points = [
        (step, {"loss": 1.0 / (step + 1), "accuracy": step / 300.0})
        for step in (0, 1, 127, 128, 16383, 16384, 10**9)
    ]
    ours = ScalarWriter(str(tmp_path / "ours"))
    theirs = EventFileWriter(str(tmp_path / "theirs"))
    for step, values in points:
        ours.scalars(step, values, wall_time=1234.5)
        theirs.add_event(_reference_event(step, values, 1234.5))
    ours.close()
    theirs.close()

    def records(folder):
        (path,) = (tmp_path / folder).glob("events.out.tfevents.*")
        data = path.read_bytes()
        # Drop the first record (the file_version event and its time).
        length = int.from_bytes(data[:8], "little")
        return data[8 + 4 + length + 4 :]

    assert records("ours") == records("theirs")


def test_points_read_back_with_tensorboards_reader(tmp_path):
    from tests.callbacks.helpers import read_scalars

    writer = ScalarWriter(str(tmp_path))
    values = np.linspace(0, 1, 3000, dtype=np.float32)
    for step, value in enumerate(values):  # more than one flush
        writer.scalars(step, {"learning_rate": value})
    writer.close()
    read = read_scalars(tmp_path)["learning_rate"]
    assert [s for s, _ in read] == list(range(3000))
    np.testing.assert_array_equal([v for _, v in read], values)


def test_never_overwrites_a_file_and_closes_once(tmp_path):
    first, second = ScalarWriter(str(tmp_path)), ScalarWriter(str(tmp_path))
    assert first.path != second.path
    first.close()
    first.close()
    second.close()
    assert len(list(tmp_path.iterdir())) == 2


def test_writers_of_one_process_are_read_in_creation_order(tmp_path):
    """TensorBoard reads a folder's event files in name order: the tenth
    writer of a process (a run resumed nine times) must sort after the
    ninth, or the reader drops the earlier points as out of order."""
    for step in range(12):
        writer = ScalarWriter(str(tmp_path))
        writer.scalar("loss", float(step), step)
        writer.close()
    names = sorted(p.name for p in tmp_path.glob("events.out.tfevents.*"))
    assert len(names) == 12
    scalars = read_scalars(tmp_path)
    assert [step for step, _ in scalars["loss"]] == list(range(12))
