"""TensorBoard event files without TensorFlow.

Uses the `tensorboard` package's own event writer and protobufs, so the
jax and torch backends need no TensorFlow; the files are the ones
`tf.summary.scalar` writes (the v2 "scalars" plugin format: a float32
scalar tensor with the scalars plugin's metadata).
"""

import os


class ScalarWriter:
    """Writes scalar events into one run folder.

    A tiny protocol: `scalar(tag, value, step)`, `scalars(step, values)`,
    `flush()`, `close()`. Events are queued and written by the writer's
    background thread.
    """

    def __init__(self, logdir):
        from tensorboard.plugins.scalar import metadata
        from tensorboard.summary.writer.event_file_writer import EventFileWriter

        os.makedirs(logdir, exist_ok=True)
        self.logdir = logdir
        self._writer = EventFileWriter(logdir, max_queue_size=1000)
        self._metadata = metadata.create_summary_metadata(
            display_name=None, description=None
        )

    def scalars(self, step, values):
        """Writes `{tag: value}` at `step`, all in one event."""
        from tensorboard.compat.proto import event_pb2
        from tensorboard.compat.proto import summary_pb2
        from tensorboard.compat.proto import tensor_pb2
        from tensorboard.compat.proto import tensor_shape_pb2
        from tensorboard.compat.proto import types_pb2

        summary = summary_pb2.Summary(
            value=[
                summary_pb2.Summary.Value(
                    tag=tag,
                    metadata=self._metadata,
                    tensor=tensor_pb2.TensorProto(
                        dtype=types_pb2.DT_FLOAT,
                        tensor_shape=tensor_shape_pb2.TensorShapeProto(),
                        float_val=[float(value)],
                    ),
                )
                for tag, value in values.items()
            ]
        )
        self._writer.add_event(event_pb2.Event(step=int(step), summary=summary))

    def scalar(self, tag, value, step):
        self.scalars(step, {tag: value})

    def flush(self):
        self._writer.flush()

    def close(self):
        self._writer.close()
