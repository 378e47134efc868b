"""Issue 6: from an MLflow project to a registered model and a champion alias."""

from __future__ import annotations

import subprocess
import time

import pytest
from conftest import Platform, recap

MODEL = "englab-diabetes"

STATE = """
import json
from mlflow import MlflowClient
c = MlflowClient()
champion = c.get_model_version_by_alias("englab-diabetes", "champion")
versions = c.search_model_versions("name='englab-diabetes'")
run = c.get_run(champion.run_id)
print(json.dumps({
    "champion": champion.version,
    "status": champion.status,
    "versions": sorted(int(v.version) for v in versions),
    "ready": sorted(int(v.version) for v in versions if v.status == "READY"),
    "metrics": run.data.metrics,
    "params": run.data.params,
    "source": champion.source,
}))
"""

VERSIONS = """
import json
from mlflow import MlflowClient
c = MlflowClient()
vs = c.search_model_versions("name='MODEL'")
print(json.dumps({
    "champion": c.get_model_version_by_alias("MODEL", "champion").version,
    "versions": sorted(int(v.version) for v in vs),
    "ready": sorted(int(v.version) for v in vs if v.status == "READY"),
}))
"""

ARTIFACTS = """
import json, mlflow
c = mlflow.MlflowClient()
v = c.get_model_version_by_alias("englab-diabetes", "champion")
path = mlflow.artifacts.download_artifacts(f"models:/englab-diabetes/{v.version}")
import os
print(json.dumps(sorted(os.listdir(path))))
"""


def state(platform: Platform) -> dict:
    return platform.mlflow_client(STATE)


def test_site_trained_registered_and_promoted(platform: Platform):
    s = state(platform)
    assert s["status"] == "READY"
    assert int(s["champion"]) in s["ready"]
    assert {"rmse", "mae", "r2"} <= set(s["metrics"])
    assert "alpha" in s["params"]


def test_model_artifacts_come_back_through_the_proxy(platform: Platform):
    files = platform.mlflow_client(ARTIFACTS)
    # the signature and input example live in MLmodel / input_example.json
    assert {"MLmodel", "requirements.txt", "input_example.json"} <= set(files)


def test_champion_moves_only_when_the_metric_wins(platform: Platform):
    """A fresh model name per session, so the outcome never depends on earlier runs."""
    name = f"englab-promotion-{int(time.time())}"

    def train(log: str, alpha: float) -> subprocess.CompletedProcess:
        return platform.playbook(
            "englab.mlops.train", log, train_model_name=name, train_parameters={"alpha": alpha}
        )

    def versions() -> dict:
        return platform.mlflow_client(VERSIONS.replace("MODEL", name))

    first = train("train-first", 1.0)
    assert "champion: moved to version 1" in first.stdout
    assert versions() == {"champion": "1", "versions": [1], "ready": [1]}

    worse = train("train-worse", 5.0)
    assert "champion: unchanged" in worse.stdout
    assert "does not beat" in worse.stdout
    assert versions() == {"champion": "1", "versions": [1, 2], "ready": [1, 2]}

    better = train("train-better", 0.001)
    assert "champion: moved to version 3" in better.stdout
    assert versions() == {"champion": "3", "versions": [1, 2, 3], "ready": [1, 2, 3]}
    # the train playbook is an action and says so
    assert recap(better)[platform.node("training-node")]["changed"] > 0


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            {"train_project": "/nonexistent/project"},
            "train_project '/nonexistent/project' is not an MLflow project",
        ),
        ({"train_entry_point": "nope"}, "train_entry_point 'nope' is not an entry point"),
        ({"train_metric": "accuracy"}, "train_metric 'accuracy' was not logged"),
    ],
)
def test_bad_train_input_registers_nothing(platform: Platform, extra: dict, message: str):
    before = state(platform)
    proc = platform.playbook("englab.mlops.train", f"train-bad-{sorted(extra)[0]}", check=False, **extra)
    assert proc.returncode != 0
    assert message in proc.stdout + proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    assert state(platform)["versions"] == before["versions"]
