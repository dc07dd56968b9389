"""Cross-validated trials: k fold-models trained as one Keras model are k independent models.

Real TensorFlow, in this process, no Ray: the fused model's fold-model j is
compared with a plain single model built from fold j's own preprocessing and
given fold j's weights, and fold-model j is shown never to learn from the
rows it holds out.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from conftest import hyperparameters

pytestmark = pytest.mark.slow

HP = hyperparameters(
    n_layers=2, units_0=12, units_1=6, activation="tanh", dropout=0.0, l2=1e-4, learning_rate=3e-3, batch_size=32
)


def _table(tmp_path, n: int = 160):
    """A clinical-style table: a numeric column with missing values, a categorical one with a rare value."""
    from conftest import load

    rng = np.random.default_rng(4)
    frame = pd.DataFrame(
        {
            "age": rng.normal(60, 10, n),
            "crp": rng.lognormal(1, 0.5, n),
            "site": rng.choice(["a", "b", "c"], n),
            "outcome": rng.integers(0, 2, n),
        }
    )
    frame.loc[:1, "site"] = "rare"
    frame.loc[20, "crp"] = np.nan  # one missing value: the fold holding its row out never imputes
    path = tmp_path / "t.csv"
    frame.to_csv(path, index=False)
    return load(str(path), target="outcome", missing="impute", folds=4)


def _single_model_of_fold(fused, data, j: int):
    """A plain `build_model` on fold j's schema, with fold-model j's weights copied in."""
    from trainable.trial.model import build_model

    single = build_model(HP, data.fold_schemas[j], data.n_classes, 1)
    schema, union = data.fold_schemas[j], fused.get_layer("impute")
    # which rows of the fused first kernel feed fold j's own encoded features
    numeric = [i for i, c in enumerate(schema) if c.numeric]
    rows = list(range(len(numeric)))
    rows += [len(numeric) + n for n, c in enumerate(union.flagged) if union.indicator[j][c]]
    offset = len(numeric) + len(union.flagged)
    for c in schema:
        if not c.numeric:
            everything = fused.get_layer(f"onehot_{c.input}").get_vocabulary()  # [unknown, *union]
            rows += [offset] + [offset + everything.index(v) for v in c.vocabulary]
            offset += len(everything)
    for name, mine in (("hidden_0", "hidden_0"), ("hidden_1", "hidden_1"), ("logits", "proba")):
        kernel, bias = (w[j] for w in fused.get_layer(name).get_weights())
        single.get_layer(mine).set_weights([kernel[rows] if name == "hidden_0" else kernel, bias])
    return single


def test_each_fold_model_is_a_plain_model_on_its_own_preprocessing(tmp_path):
    from trainable.data.encoding import to_model_input
    from trainable.runtime.tf import configure_tensorflow
    from trainable.trial.fold_model import probabilities
    from trainable.trial.validation import scheme_for

    configure_tensorflow(1)
    data = _table(tmp_path)
    fused = scheme_for(data).build(HP, 1)
    X = to_model_input(data.X_val)
    together = probabilities(fused.predict(X, verbose=0))  # (n, k, 1)
    assert together.shape == (len(data.y_val), 4, 1)
    for j in range(data.n_folds):
        alone = _single_model_of_fold(fused, data, j).predict(X, verbose=0)
        assert np.allclose(together[:, j], alone, atol=1e-5), j


def _trained(data):
    import keras

    from trainable.data.encoding import to_model_input
    from trainable.trial.validation import scheme_for

    keras.utils.set_random_seed(0)
    scheme = scheme_for(data)
    model = scheme.build(HP, 1)
    y, options = scheme.targets(class_weight=True)
    model.fit(to_model_input(data.X_train), y, batch_size=32, epochs=4, shuffle=True, verbose=0, **options)
    return model


def test_a_fold_model_never_learns_from_the_rows_it_holds_out(tmp_path):
    from trainable.data.encoding import to_model_input
    from trainable.runtime.tf import configure_tensorflow
    from trainable.trial.fold_model import probabilities
    from trainable.trial.validation import scheme_for, validation_proba

    configure_tensorflow(1)
    data = _table(tmp_path)
    flipped_y = data.y_train.copy()
    flipped_y[data.folds == 0] = 1 - flipped_y[data.folds == 0]  # every label fold-model 0 must not see
    flipped = dataclasses.replace(data, y_train=flipped_y, y_val=flipped_y)
    X = to_model_input(data.X_val)
    plain, changed = _trained(data).predict(X, verbose=0), _trained(flipped).predict(X, verbose=0)
    assert np.array_equal(plain[:, 0], changed[:, 0])  # fold-model 0: bit for bit the same
    assert not np.allclose(plain[:, 1:], changed[:, 1:])  # the others did train on those rows

    model = _trained(data)
    pooled = validation_proba(model, data)
    by_fold = probabilities(model.predict(X, verbose=0))
    assert np.allclose(pooled, by_fold[np.arange(len(pooled)), data.folds])  # each row from its held-out model
    averaged = scheme_for(data).export(model).predict(X, verbose=0)
    assert np.allclose(averaged, by_fold.mean(axis=1), atol=1e-6)  # the exported model averages the k


def test_the_baselines_see_exactly_the_networks_encoding(tmp_path):
    import keras
    from conftest import load

    from trainable.data.design_matrix import design_matrix
    from trainable.data.encoding import to_model_input
    from trainable.runtime.tf import configure_tensorflow
    from trainable.trial.model import build_model

    configure_tensorflow(1)
    for data, layer in ((_table(tmp_path), "encoded"), (load(), "scale")):
        for schema in data.fold_schemas or (data.schema,):
            model = build_model(HP, schema, data.n_classes, 1)
            encoded = keras.Model(model.input, model.get_layer(layer).output).predict(
                to_model_input(data.X_val), verbose=0
            )
            assert np.allclose(design_matrix(data.X_val, schema), encoded, atol=1e-4)
