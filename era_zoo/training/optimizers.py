"""Optimizers of the recipes.

Paper B trains with PyTorch's ``Adam(lr=1e-4, weight_decay=1e-4)``. PyTorch's
Adam ``weight_decay`` is an L2 penalty: ``weight_decay * w`` is added to the
gradient *before* the moment estimates, so the decay is rescaled by Adam's
per-parameter step size. Keras' ``Adam(weight_decay=...)`` and ``AdamW`` both
apply *decoupled* decay (``w -= lr * weight_decay * w`` beside the Adam step),
which is PyTorch's ``AdamW``, a different optimizer. :class:`AdamL2` is
PyTorch's Adam step exactly (bias-corrected moments, epsilon added to the
bias-corrected root of the second moment, 1e-8 by default) with the coupled L2
term; ``weight_decay_mode = "decoupled"`` in a recipe selects Keras' AdamW.
"""
import keras
from keras import ops


@keras.saving.register_keras_serializable(package="era_zoo")
class AdamL2(keras.optimizers.Adam):
    """PyTorch ``torch.optim.Adam`` semantics, ``l2`` = its ``weight_decay``."""

    def __init__(self, learning_rate=1e-4, l2=0.0, beta_1=0.9, beta_2=0.999,
                 epsilon=1e-8, name="adam_l2", **kwargs):
        kwargs.pop("amsgrad", None)
        super().__init__(learning_rate=learning_rate, beta_1=beta_1,
                         beta_2=beta_2, epsilon=epsilon, amsgrad=False,
                         name=name, **kwargs)
        self.l2 = float(l2)

    def update_step(self, gradient, variable, learning_rate):
        dtype = variable.dtype
        lr = ops.cast(learning_rate, dtype)
        grad = ops.cast(gradient, dtype)
        if self.l2:
            grad = ops.add(grad, ops.multiply(ops.cast(self.l2, dtype), variable))
        step = ops.cast(self.iterations + 1, dtype)
        beta_1 = ops.cast(self.beta_1, dtype)
        beta_2 = ops.cast(self.beta_2, dtype)
        index = self._get_variable_index(variable)
        m, v = self._momentums[index], self._velocities[index]
        self.assign_add(m, ops.multiply(ops.subtract(grad, m), 1 - beta_1))
        self.assign_add(v, ops.multiply(ops.subtract(ops.square(grad), v), 1 - beta_2))
        bias_1 = 1 - ops.power(beta_1, step)
        bias_2 = 1 - ops.power(beta_2, step)
        denom = ops.add(ops.divide(ops.sqrt(v), ops.sqrt(bias_2)),
                        ops.cast(self.epsilon, dtype))
        self.assign_sub(variable, ops.divide(ops.multiply(ops.divide(lr, bias_1), m), denom))

    def get_config(self):
        config = super().get_config()
        config.pop("amsgrad", None)
        config["l2"] = self.l2
        return config


def make_optimizer(config):
    """The optimizer of a recipe's ``[training.optimizer]`` section."""
    common = {"learning_rate": config["learning_rate"], "beta_1": config["beta_1"],
              "beta_2": config["beta_2"], "epsilon": config["epsilon"]}
    if config["clipnorm"]:
        common["clipnorm"] = config["clipnorm"]
    if config["weight_decay_mode"] == "l2":
        return AdamL2(l2=config["weight_decay"], **common)
    return keras.optimizers.AdamW(weight_decay=config["weight_decay"], **common)
