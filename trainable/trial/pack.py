"""A pack: several configurations trained as one Keras model, each exactly as it would train alone.

Contract: `build_pack(members, scheme, steps)` returns a compiled `PackModel`
for `members` (a list of `Member`: hyperparameters, initial-weights seed and
name) on the scheme's data (`trainable.trial.validation`). All members share
the batch size, the batch order and the preprocessing (`scheme.encoder()`,
which has no trainable weights); everything else is each member's own: its
layers (`scheme.head`, seeded by `Member.seed`: `trainable.trial.architecture`),
its loss (the scheme's, plus its own L2 penalties) and its optimizer.

One training step runs the encoder once, every active member's layers, and
the sum of their losses; gradients are taken once and each member's own
optimizer is applied to its own variables. Members share no trainable
variable, so the gradient of the sum with respect to a member's variables is
that member's own gradient: a member's weights follow exactly the path they
would follow trained alone on the same batches (tests check it to 1e-6). The
per-step cost of Keras (the Python loop, dispatch, the data pipeline) is
paid once for the pack, which is where packing wins on small tables.

`freeze(i)` takes member i out of training at once (stopped early, or
diverged): its update is masked out inside the traced step, so its weights
and optimizer state stay exactly as they are, without a new trace (which
costs about a first epoch). `retrace()` traces the step again without the
frozen members, whose forward and backward passes then cost nothing: worth
it when enough epochs remain (the epoch callback decides, from measured
times). `outputs(X)` are the active members' outputs; `member_model(i)` is member
i alone as a Keras model on the raw inputs (what is checkpointed and
exported: the same layers, so its predictions equal the member's branch);
`state()`/`load_state(arrays)` are every member's weights and optimizer
variables as numpy arrays (a pack's checkpoint). Keras is imported inside
functions (and by the class, which subclasses `keras.Model`): load this
module inside a trial only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from trainable.runtime.environment import import_keras
from trainable.trial.architecture import Architecture

if TYPE_CHECKING:
    import keras

    from trainable.trial.validation import Scheme
else:
    keras = import_keras()

__all__ = ["Member", "PackModel", "build_pack"]


@dataclass(frozen=True)
class Member:
    hp: dict[str, Any]  # the configuration's sampled hyperparameters
    seed: int  # its initial weights (and dropout masks)
    name: str  # its id: the folder of its checkpoint


class PackModel(keras.Model):
    def __init__(self, encoder: Any, heads: list[Any], optimizers: list[Any], loss: Any) -> None:
        super().__init__(name="hpsearch_pack")
        self.encoder = encoder
        self.heads = heads
        self.member_optimizers = optimizers
        self.member_loss = loss
        self.active = list(range(len(heads)))  # members still training
        self.traced = list(range(len(heads)))  # members the train function computes (frozen ones masked out)
        self.training_mask = keras.Variable([1.0] * len(heads), trainable=False, name="training_mask")
        self.trackers = [keras.metrics.Mean(name=f"loss_{i}") for i in range(len(heads))]
        self._alone: dict[int, Any] = {}

    @property
    def metrics(self) -> list[Any]:
        return list(self.trackers)

    def call(self, x: Any, training: bool = False) -> list[Any]:
        z = self.encoder(x, training=training)
        return [self.heads[i](z, training=training) for i in self.active]

    def train_step(self, data: Any) -> dict[str, Any]:
        import tensorflow as tf

        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        with tf.GradientTape() as tape:
            z = self.encoder(x, training=True)
            losses = []
            for i in self.traced:
                head = self.heads[i]
                loss = self.member_loss(y, head(z, training=True), sample_weight)
                if head.losses:
                    loss = loss + tf.add_n(head.losses)
                losses.append(loss)
            total = tf.add_n(losses)
        variables = [head_vars for i in self.traced for head_vars in self.heads[i].trainable_variables]
        gradients = tape.gradient(total, variables)
        start = 0
        for i, loss in zip(self.traced, losses):
            own = self.heads[i].trainable_variables
            grads = gradients[start : start + len(own)]
            start += len(own)
            self._apply(i, grads, own, loss)
        return {f"loss_{i}": self.trackers[i].result() for i in self.traced}

    def _apply(self, i: int, gradients: list[Any], variables: list[Any], loss: Any) -> None:
        """Member `i`'s own update, skipped (its weights and optimizer state untouched) once it is frozen:
        Keras's optimizer arithmetic gated directly (`trainable.runtime._compat.gated_update`), else its
        `apply` under a `tf.cond`."""
        import tensorflow as tf

        from trainable.runtime._compat import gated_update

        gate = self.training_mask[i] > 0
        optimizer = self.member_optimizers[i]
        if not gated_update(optimizer, gradients, variables, gate):

            def update() -> Any:
                optimizer.apply(gradients, variables)
                return tf.constant(True)

            tf.cond(gate, update, lambda: tf.constant(False))
        self.trackers[i].update_state(loss, sample_weight=tf.cast(gate, loss.dtype))

    def freeze(self, i: int) -> None:
        """Take member `i` out of training from the next step on (its update masked out: no new trace)."""
        if i in self.active:
            self.active.remove(i)
            self.training_mask[i].assign(0.0)

    def retrace(self) -> None:
        """Trace the train function again with the members still training only: their steps get cheaper
        by the frozen members' share, for the cost of a trace (`trainable.trial.epoch_callback` decides)."""
        if self.traced != self.active:
            self.traced = list(self.active)
            self.make_train_function(force=True)

    def outputs(self, X: Any) -> dict[int, np.ndarray]:
        """Each active member's output for `X` (raw model input), by member index."""
        z = self.encoder(X, training=False)
        return {i: np.asarray(self.heads[i](z, training=False)) for i in self.active}

    def member_model(self, i: int) -> Any:
        """Member `i` alone on the raw inputs: the encoder and its layers (shared with the pack)."""
        if i not in self._alone:
            inputs = self.encoder.input
            self._alone[i] = keras.Model(inputs, self.heads[i](self.encoder(inputs)), name=f"hpsearch_{i}")
        return self._alone[i]

    def state(self) -> dict[str, np.ndarray]:
        """Every member's weights and optimizer variables, keyed `w/<i>/<j>` and `o/<i>/<j>`."""
        arrays = {}
        for i, (head, optimizer) in enumerate(zip(self.heads, self.member_optimizers)):
            arrays.update({f"w/{i}/{j}": w for j, w in enumerate(head.get_weights())})
            arrays.update({f"o/{i}/{j}": np.asarray(v) for j, v in enumerate(optimizer.variables)})
        return arrays

    def load_state(self, arrays: Any) -> None:
        for i, (head, optimizer) in enumerate(zip(self.heads, self.member_optimizers)):
            head.set_weights([arrays[f"w/{i}/{j}"] for j in range(len(head.weights))])
            for j, variable in enumerate(optimizer.variables):
                variable.assign(arrays[f"o/{i}/{j}"])


def build_pack(members: list[Member], scheme: Scheme, steps_per_execution: int) -> PackModel:
    """The compiled pack of `members` (their order is the members' indices)."""
    encoder = scheme.encoder()
    heads = [scheme.head(m.hp, encoder.output, m.seed, f"member_{i}") for i, m in enumerate(members)]
    optimizers = []
    for member, head in zip(members, heads):
        optimizer = Architecture.of(member.hp).optimizer()
        optimizer.build(head.trainable_variables)
        optimizers.append(optimizer)
    model = PackModel(encoder, heads, optimizers, scheme.loss())
    # Keras's own optimizer is never applied: each member has its own (`member_optimizers`)
    model.compile(optimizer=keras.optimizers.SGD(), steps_per_execution=steps_per_execution)
    return model
