"""ElasticNet on scikit-learn's bundled diabetes data set (no download needed).

Logs parameters, metrics, an input example and a signature. Registers the model
when --model-name is given; englab.mlops.train leaves it empty and registers the
run's model itself once it has checked the metric it promotes on.
"""

from __future__ import annotations

import argparse

import mlflow
import numpy as np
import pandas as pd
import sklearn
from mlflow.models import infer_signature
from sklearn.datasets import load_diabetes
from sklearn.linear_model import ElasticNet
from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score
from sklearn.model_selection import train_test_split


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--alpha", type=float, default=0.01)
    parser.add_argument("--l1-ratio", type=float, default=0.5)
    parser.add_argument("--model-name", default="")
    args = parser.parse_args()

    features, target = load_diabetes(return_X_y=True, as_frame=True)
    x_train, x_test, y_train, y_test = train_test_split(features, target, test_size=0.25, random_state=42)

    with mlflow.start_run() as run:
        mlflow.log_params({"alpha": args.alpha, "l1_ratio": args.l1_ratio, "rows": len(features)})
        model = ElasticNet(alpha=args.alpha, l1_ratio=args.l1_ratio, random_state=42)
        model.fit(x_train, y_train)
        predicted = model.predict(x_test)
        mlflow.log_metrics(
            {
                "rmse": float(np.sqrt(mean_squared_error(y_test, predicted))),
                "mae": float(mean_absolute_error(y_test, predicted)),
                "r2": float(r2_score(y_test, predicted)),
            }
        )
        example = x_train.head(5)
        mlflow.sklearn.log_model(
            model,
            name="model",
            input_example=example,
            signature=infer_signature(example, model.predict(example)),
            registered_model_name=args.model_name or None,
            # Explicit pins: no slow requirement inference, and the serving image
            # gets exactly the versions the model was trained with.
            pip_requirements=[
                f"mlflow=={mlflow.__version__}",
                f"scikit-learn=={sklearn.__version__}",
                f"pandas=={pd.__version__}",
                f"numpy=={np.__version__}",
            ],
        )
        print(f"run_id={run.info.run_id}")


if __name__ == "__main__":
    main()
