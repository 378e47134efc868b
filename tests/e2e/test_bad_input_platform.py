"""Issue 9, the rows that need a running platform: a model, alias or version that does not exist, or a
version that is not READY, is refused by englab.mlops.deploy with a message naming the variable, and the
serving node keeps serving what it served (same state file, same containers and images in its engine).

The offline rows of the same table are tests/integration/test_bad_input_table.py.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator

import pytest
from conftest import Platform, recap

pytestmark = pytest.mark.e2e

MODEL = "englab-diabetes"
STATE_FILE = "/var/lib/englab-serving/state.json"  # roles/serving_node/vars/main.yml

NEW_VERSION = """
import json, mlflow
from mlflow import MlflowClient
c = MlflowClient()
champion = c.get_model_version_by_alias("englab-diabetes", "champion")
# MLflow 3: the source is the logged model (models:/m-...), which register_model resolves
v = mlflow.register_model(champion.source, "englab-diabetes")
print(json.dumps({"version": v.version}))
"""

DELETE_VERSION = """
import json
from mlflow import MlflowClient
MlflowClient().delete_model_version("englab-diabetes", "{version}")
print(json.dumps({{"deleted": "{version}"}}))
"""

VERSIONS = """
import json
from mlflow import MlflowClient
print(json.dumps(sorted(int(v.version) for v in MlflowClient().search_model_versions("name='englab-diabetes'"))))
"""


def serving_snapshot(platform: Platform) -> dict[str, str]:
    """What a deploy would change on the serving node: its state file, its model containers and images."""
    engine = ("docker", "ps", "-a", "--format", "{{.Names}} {{.Image}} {{.State}}")
    images = ("docker", "images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}")
    return {
        "state": platform.exec("serving-node", "cat", STATE_FILE, check=False).stdout,
        "containers": "\n".join(sorted(platform.exec("serving-node", *engine).stdout.splitlines())),
        "images": "\n".join(sorted(platform.exec("serving-node", *images).stdout.splitlines())),
    }


def refused_and_unchanged(platform: Platform, log: str, fragment: str, **selection: object) -> None:
    before = serving_snapshot(platform)
    proc = platform.playbook("englab.mlops.deploy", log, check=False, **selection)
    output = proc.stdout + proc.stderr
    # A play with no `serving` host "succeeds" without checking anything; that is not a refusal.
    assert platform.node("serving-node") in recap(proc), (
        f"englab.mlops.deploy never reached the serving node:\n{output[-3000:]}"
    )
    assert proc.returncode != 0, output[-3000:]
    assert fragment in output, output[-3000:]
    assert "Nothing was changed" in output, output[-3000:]
    assert "Traceback" not in output
    assert serving_snapshot(platform) == before


@pytest.mark.parametrize(
    ("selection", "fragment"),
    [
        (
            {"serving_node_model_name": "englab-no-such-model"},
            # the auth app answers 403 for a model that does not exist, as for one the user may not read
            "serving_node_model_name 'englab-no-such-model' is not a registered model user 'serving' may read on",
        ),
        (
            {"serving_node_model_name": MODEL, "serving_node_model_alias": "no-such-alias"},
            f"serving_node_model_alias 'no-such-alias' is not set on model '{MODEL}'",
        ),
        (
            {"serving_node_model_name": MODEL, "serving_node_model_version": "9999"},
            f"serving_node_model_version '9999' is not a version of model '{MODEL}'",
        ),
    ],
    ids=["model-does-not-exist", "alias-does-not-exist", "version-does-not-exist"],
)
def test_deploy_refuses_what_the_registry_does_not_have(
    platform: Platform, selection: dict[str, str], fragment: str
) -> None:
    refused_and_unchanged(platform, "deploy-bad-" + "-".join(selection), fragment, **selection)


@pytest.fixture
def pending_version(platform: Platform) -> Iterator[str]:
    """A new version of the champion's model that the registry reports PENDING_REGISTRATION.

    The open-source SQL registry makes every version READY at once, so the fixture sets the status in
    the backend store, the way a registration still copying artifacts would leave it.
    """
    version = str(platform.mlflow_client(NEW_VERSION)["version"])
    status = "status = 'PENDING_REGISTRATION', status_message = 'englab e2e: still copying'"
    sql = f"UPDATE model_versions SET {status} WHERE name = '{MODEL}' AND version = {int(version)}"  # noqa: S608 constants and an int
    platform.exec(
        "englab-db",
        *("runuser", "-u", "postgres", "--", "psql", "-d", "mlflow_db", "-v", "ON_ERROR_STOP=1", "-c", sql),
    )
    yield version
    try:
        platform.mlflow_client(DELETE_VERSION.format(version=version))
    except subprocess.CalledProcessError as exc:  # leave the platform usable, but say what is left
        pytest.fail(f"could not delete the pending version {version}: {exc.stderr}")


def test_deploy_refuses_a_version_that_is_not_ready(platform: Platform, pending_version: str) -> None:
    refused_and_unchanged(
        platform,
        "deploy-bad-pending",
        f"{MODEL} version {pending_version} (selected by serving_node_model_version) is PENDING_REGISTRATION, "
        "not READY (englab e2e: still copying)",
        serving_node_model_name=MODEL,
        serving_node_model_version=pending_version,
    )


def test_versions_are_untouched_by_refused_deploys(platform: Platform) -> None:
    """The registry itself: a refused deploy never registers or deletes a version."""
    listing = VERSIONS
    before = platform.mlflow_client(listing)
    refused_and_unchanged(
        platform,
        "deploy-bad-registry",
        f"serving_node_model_alias 'missing-alias' is not set on model '{MODEL}'",
        serving_node_model_name=MODEL,
        serving_node_model_alias="missing-alias",
    )
    assert platform.mlflow_client(listing) == before
