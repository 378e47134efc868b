"""Drive the real MLflow client through nginx, as the training user; run in the client venv.

Prints one JSON line the test checks: sha256 of the uploaded and downloaded artifact,
the logged param and metric, and the registered model version.
"""

import hashlib
import json
import os
import tempfile
import time
from pathlib import Path

import mlflow
from mlflow import MlflowClient
from mlflow.pyfunc import PythonModel

ARTIFACT_BYTES = 8 * 1024 * 1024


class Echo(PythonModel):
    """The smallest useful pyfunc: returns its input."""

    def predict(self, context, model_input, params=None):
        return model_input


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def main() -> None:
    name = f"molecule-roundtrip-{int(time.time())}"
    experiment_id = mlflow.create_experiment(name)
    with tempfile.TemporaryDirectory() as tmp:
        blob = Path(tmp) / "blob.bin"
        blob.write_bytes(os.urandom(ARTIFACT_BYTES))
        with mlflow.start_run(experiment_id=experiment_id) as run:
            mlflow.log_param("alpha", "0.5")
            mlflow.log_metric("rmse", 0.25, step=1)
            mlflow.log_artifact(str(blob), artifact_path="data")
            mlflow.pyfunc.log_model(
                name="model",
                python_model=Echo(),
                pip_requirements=[f"mlflow=={mlflow.__version__}"],
                registered_model_name=name,
            )
        downloaded = mlflow.artifacts.download_artifacts(
            run_id=run.info.run_id, artifact_path="data/blob.bin", dst_path=str(Path(tmp) / "back")
        )
        client = MlflowClient()
        fetched = client.get_run(run.info.run_id)
        versions = client.search_model_versions(f"name='{name}'")
        print(
            json.dumps(
                {
                    "experiment_id": experiment_id,
                    "run_id": run.info.run_id,
                    "model_name": name,
                    "uploaded_sha256": sha256(blob),
                    "downloaded_sha256": sha256(Path(downloaded)),
                    "downloaded_size": Path(downloaded).stat().st_size,
                    "param_alpha": fetched.data.params.get("alpha"),
                    "metric_rmse": fetched.data.metrics.get("rmse"),
                    "model_versions": [v.version for v in versions],
                    "artifact_uri": run.info.artifact_uri,
                }
            )
        )


if __name__ == "__main__":
    main()
