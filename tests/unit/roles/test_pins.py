"""The pins that name one release in several roles name the same one: MLflow on the tracking server,
the training node and in the serving images (a model logged on the training node is served by the
same MLflow that logged it), and uv in the nodes' venvs and in the serving images."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

ROLES = Path(__file__).resolve().parents[3] / "roles"


def default(role: str, name: str) -> str:
    defaults = yaml.safe_load((ROLES / role / "defaults" / "main.yml").read_text())
    return str(defaults[name])


def spec_default(role: str, name: str) -> set[str]:
    """The default each entry point's argument spec documents for `name`."""
    specs = yaml.safe_load((ROLES / role / "meta" / "argument_specs.yml").read_text())["argument_specs"]
    return {
        str(entry["options"][name]["default"]) for entry in specs.values() if name in entry.get("options", {})
    }


@pytest.mark.parametrize(
    "pins",
    [
        [
            ("tracking_server", "tracking_server_mlflow_version"),
            ("training_node", "training_node_mlflow_version"),
            ("serving_node", "serving_node_mlflow_version"),
        ],
        [("shared", "shared_uv_version"), ("serving_node", "serving_node_uv_version")],
    ],
    ids=["mlflow", "uv"],
)
def test_one_release_everywhere(pins: list[tuple[str, str]]):
    releases = {f"{role}.{name}": default(role, name) for role, name in pins}
    assert len(set(releases.values())) == 1, releases
    for role, name in pins:
        assert spec_default(role, name) <= set(releases.values()), (role, name, spec_default(role, name))
