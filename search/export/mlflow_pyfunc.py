"""The exported model as an MLflow pyfunc model that serves without hpsearch (MLflow "models from code").

Contract: this file is not imported by hpsearch. `search.sweep.tracking` logs it
as the `python_model` of `mlflow.pyfunc.log_model`, with two artifacts: `serving`
(the exported model's SavedModel, `trainable.trial.serving`) and `card` (its
`model_card.json`). MLflow copies the file into the logged model and runs it
when the model is loaded, so it imports only MLflow, NumPy, pandas and
TensorFlow: `mlflow models serve --env-manager local` (or
`mlflow.pyfunc.load_model`) serves it where hpsearch is not installed.
`predict(frame)` takes raw rows with the training columns by name (extra columns
are ignored; a missing one is an error naming it) and returns one `proba_<class>`
column per class, in the card's class order: the same numbers as `hpsearch
predict` to float32 rounding. Missing values: NaN in a numeric column, and in a
text column the card's `inputs.serving.missing.string` token, as hpsearch does.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd
from mlflow.models import set_model
from mlflow.pyfunc import PythonModel


class ServingModel(PythonModel):
    def load_context(self, context: Any) -> None:
        import tensorflow as tf

        with open(context.artifacts["card"]) as f:
            card = json.load(f)
        serving = card["inputs"]["serving"]
        self.signature = tf.saved_model.load(context.artifacts["serving"]).signatures[serving["signature"]]
        self.output, self.missing = serving["output"], serving["missing"]["string"]
        self.inputs = serving["inputs"]  # input name -> {"column", "dtype"}
        self.classes = card["data"]["class_names"]

    def _tensor(self, series: pd.Series, dtype: str) -> Any:
        import tensorflow as tf

        if dtype == "float32":
            return tf.constant(pd.to_numeric(series).to_numpy(dtype=np.float32))
        text = series.astype("object").where(series.notna(), self.missing)
        return tf.constant(np.array([str(v) for v in text], dtype=object))

    def predict(self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None) -> pd.DataFrame:
        frame = pd.DataFrame(model_input)
        absent = [spec["column"] for spec in self.inputs.values() if spec["column"] not in frame.columns]
        if absent:
            raise ValueError(f"missing column(s) the model needs: {', '.join(absent)}")
        columns = {name: self._tensor(frame[spec["column"]], spec["dtype"]) for name, spec in self.inputs.items()}
        proba = self.signature(**columns)[self.output].numpy()
        return pd.DataFrame({f"proba_{c}": proba[:, k] for k, c in enumerate(self.classes)})


set_model(ServingModel())
