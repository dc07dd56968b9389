"""A client of the serving export, run as a script in a process where hpsearch cannot be imported.

`python serving_client.py MODEL_DIR ROWS.parquet OUT.npy`: loads MODEL_DIR/serving with TensorFlow alone,
feeds it ROWS's raw named columns as the model card's `inputs.serving` describes them, and saves the
probabilities. It refuses to run if `search` or `trainable` can be imported.
"""

import json
import sys

for blocked in ("search", "trainable"):
    sys.modules[blocked] = None  # type: ignore[assignment]  # `import search` now raises ImportError

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import tensorflow as tf  # noqa: E402


def main(model_dir: str, rows: str, out: str) -> None:
    with open(f"{model_dir}/model_card.json") as f:
        card = json.load(f)
    serving = card["inputs"]["serving"]
    signature = tf.saved_model.load(f"{model_dir}/serving").signatures[serving["signature"]]
    frame = pd.read_parquet(rows)
    columns = {}
    for name, spec in serving["inputs"].items():
        values = frame[spec["column"]]
        if spec["dtype"] == "float32":
            columns[name] = tf.constant(values.to_numpy(dtype=np.float32))
        else:
            text = values.astype(object).where(values.notna(), serving["missing"]["string"])
            columns[name] = tf.constant(np.array([str(v) for v in text], dtype=object))
    np.save(out, signature(**columns)[serving["output"]].numpy())


if __name__ == "__main__":
    try:
        import trainable  # noqa: F401

        raise SystemExit("hpsearch is importable here")
    except ImportError:
        pass
    main(*sys.argv[1:4])
