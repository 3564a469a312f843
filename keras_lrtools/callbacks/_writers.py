"""TensorBoard event files without TensorFlow, at a few microseconds a point.

The files are the ones `tf.summary.scalar` writes (TFRecord framing, the
v2 "scalars" plugin format: a float32 scalar tensor with the scalars
plugin's metadata), so TensorBoard and its readers see no difference; the
jax and torch backends need no TensorFlow. Each tag's serialized
`Summary.Value` is built once with the `tensorboard` package's own
protobufs; a point then only packs its float into it. The records' CRC32C
checksums (TFRecord framing) are computed for a whole flush at once with
NumPy from positional tables (CRC32C is linear in the bytes): about 5
microseconds a point, where tensorboard's pure-Python CRC costs 60, more
than a small train step.
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
# The longest record whose CRC comes from the positional tables (4 MB of
# them at most); a longer one (rare: an HParams summary) is looped over.
_POSITIONAL_UP_TO = 4096
_positional = np.empty((0, 256), dtype=np.uint32)
_start_terms = np.empty(0, dtype=np.uint32)


def _zero_byte(crc):
    """The register after one zero byte: a linear map over GF(2)."""
    return _TABLE_ARRAY[crc & 0xFF] ^ (crc >> 8)


def _grow_positional(length):
    """Extends the tables to records of `length` bytes.

    CRC32C's byte step is c -> Z(c) ^ TABLE[b], with Z linear, so a
    record's register is the XOR over its bytes of Z^d(TABLE[b]) (d: the
    byte's distance from the record's end) and of Z^L(0xFFFFFFFF).
    `_positional[d]` holds Z^d(TABLE[.]); `_start_terms[L]` that last term.
    """
    global _positional, _start_terms
    have = len(_positional)
    size = max(64, have)
    while size < length:
        size *= 2
    positional = np.empty((size, 256), dtype=np.uint32)
    positional[:have] = _positional
    positional[0] = _TABLE_ARRAY
    starts = np.empty(size + 1, dtype=np.uint32)
    starts[: have + 1] = _start_terms if have else [0xFFFFFFFF]
    for distance in range(max(have, 1), size):
        positional[distance] = _zero_byte(positional[distance - 1])
    for length_now in range(have + 1, size + 1):
        starts[length_now] = _zero_byte(starts[length_now - 1])
    _positional, _start_terms = positional, starts


def _looped_crc32c(record):
    crc = 0xFFFFFFFF
    for byte in record:
        crc = _TABLE[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def crc32c(records):
    """CRC32C of each bytes object in `records` (a list of ints).

    All records at once, in a few NumPy calls: a gather from the
    positional tables and one XOR reduction per record.
    """
    lengths = np.array([len(record) for record in records], dtype=np.int64)
    fits = (lengths > 0) & (lengths <= _POSITIONAL_UP_TO)
    crcs = [0 if length == 0 else None for length in lengths.tolist()]
    if fits.any():
        chosen = np.flatnonzero(fits)
        chosen_lengths = lengths[chosen]
        longest = int(chosen_lengths.max())
        if longest > len(_positional):
            _grow_positional(longest)
        data = np.frombuffer(
            b"".join(records[i] for i in chosen.tolist()), dtype=np.uint8
        )
        ends = np.cumsum(chosen_lengths)
        starts = ends - chosen_lengths
        # Each byte's distance from the end of its record.
        distance = np.repeat(ends - 1, chosen_lengths) - np.arange(len(data))
        terms = _positional[distance, data]
        registers = np.bitwise_xor.reduceat(terms, starts)
        registers ^= _start_terms[chosen_lengths]
        for index, value in zip(
            chosen.tolist(), (registers ^ 0xFFFFFFFF).tolist(), strict=True
        ):
            crcs[index] = value
    for index, crc in enumerate(crcs):
        if crc is None:
            crcs[index] = _looped_crc32c(records[index])
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
