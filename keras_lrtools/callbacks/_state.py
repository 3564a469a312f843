"""Callback state that is saved with the model's weights.

The state lives in a small `keras.layers.Layer` attached to the optimizer
as an attribute. Keras's saver walks the optimizer's attributes, so the
values go into every `save_weights` / `BackupAndRestore` checkpoint and
`.keras` file, and come back with `load_weights`. The optimizer's own
variable list is untouched, so checkpoints written with and without the
callback stay loadable into each other.
"""

import keras
import numpy as np


class CallbackState(keras.layers.Layer):
    """Named float32 scalars, saved and restored with the model weights."""

    def __init__(self, names, name):
        super().__init__(name=name, trainable=False)
        self.names = tuple(names)
        self._values = [
            self.add_weight(
                shape=(),
                initializer="zeros",
                dtype="float32",
                trainable=False,
                name=key,
            )
            for key in self.names
        ]

    def read(self):
        return {
            key: float(keras.ops.convert_to_numpy(variable))
            for key, variable in zip(self.names, self._values, strict=True)
        }

    def write(self, values):
        for key, variable in zip(self.names, self._values, strict=True):
            variable.assign(np.float32(values[key]))

    def load_own_variables(self, store):
        # A checkpoint written before this callback was used has no entry:
        # keep the current values rather than failing the whole load.
        if len(store.keys()) == 0:
            return
        super().load_own_variables(store)


def attached_state(optimizer, attribute, names):
    """The optimizer's CallbackState under `attribute`, created if absent."""
    state = getattr(optimizer, attribute, None)
    if not isinstance(state, CallbackState) or state.names != tuple(names):
        state = CallbackState(names, name=attribute.strip("_"))
        setattr(optimizer, attribute, state)
    return state
