"""The logged effective step size against the optimizer's real update.

After each real update, the step taken divided by the optimizer's own raw
moment ratio (m_t / (sqrt(v_t) + eps), Adamax m_t / (u_t + eps), read
from the optimizer's variables) is the effective learning rate. It must
equal the closed form `StepTensorBoard` logs. Adam, AdamW and Adamax are
exact for any gradient (a varying one here); Nadam, whose update also
uses the current gradient, for a steady one.
"""

import keras
import numpy as np
import pytest

from keras_lrtools._optimizer_rates import rate_holders
from keras_lrtools.callbacks import StepTensorBoard
from tests.callbacks.helpers import read_scalars
from tests.optimizers.setups import unit_gradient_model

LR, UPDATES = 0.01, 8
CASES = {
    "Adam": (keras.optimizers.Adam, {}, "adam_effective_learning_rate"),
    "AdamW": (
        keras.optimizers.AdamW,
        {"weight_decay": 0.0},
        "adam_effective_learning_rate",
    ),
    "Adamax": (keras.optimizers.Adamax, {}, "bias_corrected_learning_rate"),
    "Nadam": (keras.optimizers.Nadam, {}, "bias_corrected_learning_rate"),
}


class Gradients(keras.utils.PyDataset):
    """Batches of a constant input c_b: the kernel's gradient is c_b."""

    def __init__(self, values):
        super().__init__()
        self.values = values

    def __len__(self):
        return len(self.values)

    def __getitem__(self, index):
        x = np.full((2, 1), self.values[index], "float32")
        return x, x


class MeasureStep(keras.callbacks.Callback):
    """Effective LR of each applied update, from the weight and the slots."""

    def __init__(self, name):
        super().__init__()
        self.name = name
        self.measured = []

    def _read(self):
        _ = self.model  # jax: sync the trainer's state into the variables
        kernel = float(self.model.get_layer("kernel").kernel.numpy()[0, 0])
        slots = {
            variable.name.split("_")[-1]: float(np.ravel(variable.numpy())[0])
            for variable in self.model.optimizer.variables
            if variable.name.startswith("kernel_")
        }
        return kernel, slots

    def on_train_begin(self, logs=None):
        self._kernel, _ = self._read()

    def on_train_batch_end(self, batch, logs=None):
        kernel, slots = self._read()
        step, self._kernel = self._kernel - kernel, kernel
        if step == 0.0:
            return  # an accumulation batch: no update
        epsilon = self.model.optimizer.epsilon
        if self.name == "Adamax":
            ratio = slots["momentum"] / (slots["norm"] + epsilon)
        else:
            ratio = slots["momentum"] / (np.sqrt(slots["velocity"]) + epsilon)
        self.measured.append(step / ratio)


@pytest.mark.parametrize("accumulation", [None, 2])
@pytest.mark.parametrize("name", list(CASES))
def test_effective_step_is_the_real_one(name, accumulation, tmp_path):
    cls, options, tag = CASES[name]
    batches = UPDATES * (accumulation or 1)
    rng = np.random.RandomState(0)
    steady = name == "Nadam"
    values = np.ones(batches) if steady else rng.uniform(0.2, 3.0, batches)
    model = unit_gradient_model(
        cls(LR, gradient_accumulation_steps=accumulation, **options)
    )
    measure = MeasureStep(name)
    model.fit(
        Gradients(values),
        epochs=1,
        verbose=0,
        callbacks=[StepTensorBoard(tmp_path), measure],
    )
    logged = read_scalars(tmp_path / "train")[tag]
    assert [step for step, _ in logged] == list(range(batches))
    # The update of counter k is applied at the accumulation's last batch.
    applied = [
        value
        for step, value in logged
        if accumulation is None or (step + 1) % accumulation == 0
    ]
    assert len(measure.measured) == UPDATES
    np.testing.assert_allclose(measure.measured, applied, rtol=2e-4)
    (holder,) = rate_holders(model, "test")
    assert holder.effective_tag == tag


@pytest.mark.parametrize(
    "cls",
    [
        keras.optimizers.SGD,
        keras.optimizers.RMSprop,
        keras.optimizers.Lamb,
        keras.optimizers.Lion,
        keras.optimizers.Adafactor,
    ],
)
def test_no_effective_step_without_a_closed_form(cls, tmp_path):
    model = unit_gradient_model(cls(LR))
    model.fit(Gradients(np.ones(3)), epochs=1, verbose=0)
    (holder,) = rate_holders(model, "test")
    assert holder.effective_tag is None
    assert holder.bias_corrections([0, 1]) is None
