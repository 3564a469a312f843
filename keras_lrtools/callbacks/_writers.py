"""TensorBoard event files without TensorFlow.

Uses the `tensorboard` package's own event writer and scalar protobufs,
so the jax and torch backends need no TensorFlow; the files are the ones
`tf.summary.scalar` writes (the v2 "scalars" plugin format).
"""

import os


class ScalarWriter:
    """Writes scalar events into one run folder.

    A tiny protocol: `scalar(tag, value, step)`, `flush()`, `close()`.
    Events are queued and written by the writer's background thread.
    """

    def __init__(self, logdir):
        from tensorboard.summary.writer.event_file_writer import EventFileWriter

        os.makedirs(logdir, exist_ok=True)
        self.logdir = logdir
        self._writer = EventFileWriter(logdir, max_queue_size=1000)

    def scalar(self, tag, value, step):
        from tensorboard.compat.proto import event_pb2
        from tensorboard.plugins.scalar import summary_v2

        summary = summary_v2.scalar_pb(tag, float(value))
        self._writer.add_event(event_pb2.Event(step=int(step), summary=summary))

    def flush(self):
        self._writer.flush()

    def close(self):
        self._writer.close()
