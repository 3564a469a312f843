"""TensorBoard event files without TensorFlow, at a few microseconds a point.

The files are the ones `tf.summary.scalar` writes (TFRecord framing, the
v2 "scalars" plugin format: a float32 scalar tensor with the scalars
plugin's metadata), so TensorBoard and its readers see no difference; the
jax and torch backends need no TensorFlow. Each tag's serialized
`Summary.Value` is built once with the `tensorboard` package's own
protobufs; a point then only packs its float into it. The records' CRC32C
checksums (TFRecord framing) are computed for a whole flush at once with
NumPy: tensorboard's pure-Python CRC costs about 60 microseconds a point,
more than a small train step.
"""

import itertools
import os
import socket
import struct
import time
import weakref

import numpy as np

_CASTAGNOLI = 0x82F63B78  # CRC32C's polynomial, bit-reversed
_CRC_MASK_DELTA = 0xA282EAD8  # TFRecord's masking of stored CRCs
_SENTINEL = struct.pack("<f", 1.2345678e-30)
_FILE_NUMBERS = itertools.count()


def _crc_table():
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ (_CASTAGNOLI if crc & 1 else 0)
        table.append(crc)
    return table


_TABLE = _crc_table()
_TABLE_ARRAY = np.array(_TABLE, dtype=np.uint32)
# Under this many records of one length, a Python loop beats NumPy's
# per-column call overhead.
_VECTORIZE_FROM = 16


def crc32c(records):
    """CRC32C of each bytes object in `records` (a list of ints)."""
    crcs = [0] * len(records)
    by_length = {}
    for index, record in enumerate(records):
        by_length.setdefault(len(record), []).append(index)
    for length, indices in by_length.items():
        if len(indices) < _VECTORIZE_FROM:
            for index in indices:
                crc = 0xFFFFFFFF
                for byte in records[index]:
                    crc = _TABLE[(crc ^ byte) & 0xFF] ^ (crc >> 8)
                crcs[index] = crc ^ 0xFFFFFFFF
            continue
        # One row per record; walk the columns, all records at once.
        columns = np.frombuffer(
            b"".join(records[i] for i in indices), dtype=np.uint8
        ).reshape(len(indices), length)
        columns = np.ascontiguousarray(columns.T).astype(np.uint32)
        crc = np.full(len(indices), 0xFFFFFFFF, dtype=np.uint32)
        for column in columns:
            crc = _TABLE_ARRAY[(crc ^ column) & 0xFF] ^ (crc >> 8)
        for index, value in zip(
            indices, (crc ^ 0xFFFFFFFF).tolist(), strict=True
        ):
            crcs[index] = value
    return crcs


def masked_crc(crc):
    """TFRecord's masked CRC: rotate right by 15 bits, add a constant."""
    return (((crc >> 15) | (crc << 17)) + _CRC_MASK_DELTA) & 0xFFFFFFFF


def _varint(value):
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _length_delimited(field, payload):
    return bytes([field << 3 | 2]) + _varint(len(payload)) + payload


class ScalarWriter:
    """Writes scalar events into one new event file in `logdir`.

    `scalar(tag, value, step)`, `scalars(step, values, wall_time=None)`,
    `summary(serialized_summary, step)`, `session_start(step)`,
    `flush()`, `close()`. Points
    are kept in memory until `flush()` (or until 1024 are pending) and
    then written with one `write` call; a file is never overwritten (each
    writer creates a new, uniquely named one, like TensorFlow's).
    """

    PENDING_LIMIT = 1024

    def __init__(self, logdir):
        from tensorboard.plugins.scalar import metadata

        os.makedirs(logdir, exist_ok=True)
        self.logdir = logdir
        # TensorBoard reads a folder's files in name order: the counter is
        # zero-padded so that writer 10 of a process sorts after writer 9.
        name = (
            f"events.out.tfevents.{int(time.time()):010d}."
            f"{socket.gethostname()}.{os.getpid()}."
            f"{next(_FILE_NUMBERS):06d}.v2"
        )
        self.path = os.path.join(logdir, name)
        self._file = open(self.path, "xb")
        # Closed even if training raises before close() (unflushed points
        # of the failed epoch are dropped; the file stays readable).
        self._closer = weakref.finalize(self, self._file.close)
        self._metadata = metadata.create_summary_metadata(
            display_name=None, description=None
        )
        self._values = {}  # tag -> (bytes before the float, bytes after)
        self._pending = [
            b"\x09"
            + struct.pack("<d", time.time())
            + _length_delimited(3, b"brain.Event:2")
        ]
        self.flush()

    def _value_parts(self, tag):
        """The serialized Summary.Value of `tag`, split around its float."""
        parts = self._values.get(tag)
        if parts is None:
            from tensorboard.compat.proto import summary_pb2
            from tensorboard.compat.proto import tensor_pb2
            from tensorboard.compat.proto import tensor_shape_pb2
            from tensorboard.compat.proto import types_pb2

            value = summary_pb2.Summary.Value(
                tag=tag,
                metadata=self._metadata,
                tensor=tensor_pb2.TensorProto(
                    dtype=types_pb2.DT_FLOAT,
                    tensor_shape=tensor_shape_pb2.TensorShapeProto(),
                    float_val=[struct.unpack("<f", _SENTINEL)[0]],
                ),
            )
            serialized = value.SerializeToString()
            at = serialized.index(_SENTINEL)
            if serialized.count(_SENTINEL) != 1:  # the tag's own bytes
                raise ValueError(f"Cannot encode the tag {tag!r}.")
            # Summary.value is field 1: its key and length go in front.
            header = b"\x0a" + _varint(len(serialized))
            parts = (header + serialized[:at], serialized[at + 4 :])
            self._values[tag] = parts
        return parts

    def scalars(self, step, values, wall_time=None):
        """Queues `{tag: value}` at `step`, all in one event."""
        chunks = []
        for tag, value in values.items():
            before, after = self._value_parts(tag)
            chunks += [before, struct.pack("<f", float(value)), after]
        self.summary(b"".join(chunks), step, wall_time)

    def session_start(self, step):
        """Marks where this writer's run (re)starts.

        TensorBoard then hides the points of earlier files at `step` and
        after (a run resumed from a backup replays them).
        """
        from tensorboard.compat.proto import event_pb2

        start = event_pb2.SessionLog(status=event_pb2.SessionLog.START)
        event = event_pb2.Event(
            wall_time=time.time(), step=int(step), session_log=start
        )
        self._pending.append(event.SerializeToString())
        self.flush()

    def summary(self, serialized, step=0, wall_time=None):
        """Queues a serialized `Summary` proto (any plugin's) at `step`."""
        self._pending.append(
            b"\x09"
            + struct.pack("<d", time.time() if wall_time is None else wall_time)
            # Like protobuf, no step field for step 0 (its default).
            + (b"\x10" + _varint(int(step)) if step else b"")
            + _length_delimited(5, serialized)
        )
        if len(self._pending) >= self.PENDING_LIMIT:
            self.flush()

    def scalar(self, tag, value, step, wall_time=None):
        self.scalars(step, {tag: value}, wall_time)

    def flush(self):
        """Writes the queued events (TFRecord framing) and flushes."""
        if not self._pending:
            return
        events = self._pending
        self._pending = []
        headers = [struct.pack("<Q", len(event)) for event in events]
        crcs = crc32c(headers + events)
        count = len(events)
        chunks = []
        for index, event in enumerate(events):
            chunks += [
                headers[index],
                struct.pack("<I", masked_crc(crcs[index])),
                event,
                struct.pack("<I", masked_crc(crcs[count + index])),
            ]
        self._file.write(b"".join(chunks))
        self._file.flush()

    def close(self):
        if not self._file.closed:
            self.flush()
            self._closer()
