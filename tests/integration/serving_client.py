"""A client of the serving exports, run as a script in a process where hpsearch cannot be imported.

`python serving_client.py MODEL_DIR ROWS.parquet OUT.npy [serving|onnx]`: loads MODEL_DIR/serving with
TensorFlow alone (or MODEL_DIR/model.onnx with onnxruntime alone: TensorFlow cannot be imported either),
feeds it ROWS's raw named columns as the model card's `inputs.serving` describes them, and saves the
probabilities. It refuses to run if `search` or `trainable` can be imported.
"""

import json
import sys

ONNX = sys.argv[4:5] == ["onnx"]
for blocked in ("search", "trainable", *(["tensorflow", "keras"] if ONNX else [])):
    sys.modules[blocked] = None  # type: ignore[assignment]  # `import search` now raises ImportError

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402


def columns_of(frame: pd.DataFrame, serving: dict) -> dict[str, np.ndarray]:
    columns = {}
    for name, spec in serving["inputs"].items():
        values = frame[spec["column"]]
        if spec["dtype"] == "float32":
            columns[name] = values.to_numpy(dtype=np.float32)
        else:
            text = values.astype(object).where(values.notna(), serving["missing"]["string"])
            columns[name] = np.array([str(v) for v in text], dtype=object)
    return columns


def main(model_dir: str, rows: str, out: str) -> None:
    with open(f"{model_dir}/model_card.json") as f:
        card = json.load(f)
    serving = card["inputs"]["serving"]
    columns = columns_of(pd.read_parquet(rows), serving)
    if ONNX:
        import onnxruntime as ort

        session = ort.InferenceSession(f"{model_dir}/{card['inputs']['onnx']['file']}")
        np.save(out, session.run([serving["output"]], columns)[0])
        return
    import tensorflow as tf

    signature = tf.saved_model.load(f"{model_dir}/serving").signatures[serving["signature"]]
    tensors = {name: tf.constant(values) for name, values in columns.items()}
    np.save(out, signature(**tensors)[serving["output"]].numpy())


if __name__ == "__main__":
    try:
        import trainable  # noqa: F401

        raise SystemExit("hpsearch is importable here")
    except ImportError:
        pass
    main(*sys.argv[1:4])
