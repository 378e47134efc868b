"""Issue 15: a deploy refuses a repository that holds another model's images, before it builds.

The serving node's ownership check (roles/serving_node/tasks/ownership.yml) runs here against this
machine's Docker engine: an image is imported (an empty layer, no registry or base image needed)
into the repository the model name maps to, labelled with another model's exact name, as a
second model would have left it under the old lower-casing mapping or a hash collision. The check
must refuse it naming the variable, the model found and the repository, and let the model's own
images through.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import INSTALLED, REPO, Run, docker, run

pytestmark = pytest.mark.docker

PREFIX = "englab-modrepo-"
REGISTRY = f"{PREFIX}registry:5000"
MODEL = "diabetes"
EXERCISED = ("tasks/ownership.yml", "vars/main.yml")


def model_repository(name: str) -> str:
    """The filter under test, called through ansible itself so the installed copy is what runs."""
    proc = subprocess.run(
        [str(REPO / ".venv" / "bin" / "ansible"), "localhost", "-m", "ansible.builtin.debug", "-a",
         f"msg={{{{ {json.dumps(name)} | englab.mlops.model_repository }}}}", "-o"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return json.loads(proc.stdout.split("=>", 1)[1])["msg"]


@pytest.fixture
def images(docker_available: None, tmp_path: Path) -> Iterator[list[str]]:
    for name in EXERCISED:
        source = REPO / "roles" / "serving_node" / name
        assert (INSTALLED / "roles" / "serving_node" / name).read_bytes() == source.read_bytes(), (
            "make collection"
        )
    created: list[str] = []
    yield created
    if created:
        docker("rmi", "-f", *created)
    left = docker("image", "ls", "--format", "{{.Repository}}:{{.Tag}}").stdout.split()
    assert not [i for i in left if i.startswith(PREFIX)], left


def import_image(tmp_path: Path, reference: str, model: str, created: list[str]) -> None:
    empty = tmp_path / "empty.tar"
    subprocess.run(["tar", "cf", str(empty), "--files-from", "/dev/null"], check=True)
    result = docker("import", "--change", f"LABEL englab.mlops.model={model}", str(empty), reference)
    assert result.returncode == 0, result.stderr
    created.append(reference)


def check_ownership(tmp_path: Path, tool_env: dict[str, str]) -> Run:
    play = [
        {
            "name": "Ownership check",
            "hosts": "localhost",
            "gather_facts": False,
            "tasks": [
                {
                    "name": "Check the repository",
                    "ansible.builtin.include_role": {
                        "name": "englab.mlops.serving_node",
                        "tasks_from": "ownership",
                    },
                }
            ],
        }
    ]
    (tmp_path / "play.yml").write_text(json.dumps(play))
    extra = {
        "serving_node_model_name": MODEL,
        "serving_node_repository_url": REGISTRY,
        "__serving_node_state": {"current": None, "previous": None},
        "__serving_node_current_container": {"exists": False},
    }
    argv = [
        str(REPO / ".venv" / "bin" / "ansible-playbook"),
        str(tmp_path / "play.yml"),
        "-e",
        json.dumps(extra),
    ]
    return run(argv, tool_env)


def test_a_repository_holding_another_models_image_is_refused(
    images: list[str], tmp_path: Path, tool_env: dict[str, str]
) -> None:
    repository = f"{REGISTRY}/{model_repository(MODEL)}"
    import_image(tmp_path, f"{repository}:1", "Diabetes", images)
    result = check_ownership(tmp_path, tool_env)
    assert result.rc != 0, result.output[-3000:]
    assert "Traceback" not in result.output
    assert (
        f"serving_node_model_name '{MODEL}' maps to repository {repository}, which holds images of model 'Diabetes'"
        in result.output
    ), result.output[-3000:]
    assert "Nothing was built, pushed or switched" in result.output


def test_the_models_own_images_and_other_repositories_pass(
    images: list[str], tmp_path: Path, tool_env: dict[str, str]
) -> None:
    import_image(tmp_path, f"{REGISTRY}/{model_repository(MODEL)}:1", MODEL, images)
    # "Diabetes" has its own repository now: its image does not stand in diabetes's way.
    import_image(tmp_path, f"{REGISTRY}/{model_repository('Diabetes')}:1", "Diabetes", images)
    result = check_ownership(tmp_path, tool_env)
    assert result.rc == 0, result.output[-3000:]
    assert '"failed": 0' in result.output or "failed=0" in result.output, result.output[-3000:]
