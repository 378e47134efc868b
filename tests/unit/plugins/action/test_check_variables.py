"""englab.mlops.check_variables: what it refuses, and that every playbook runs it first."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from unittest import mock

import pytest
import yaml
from ansible.parsing.dataloader import DataLoader
from ansible.playbook.task import Task
from ansible.template import Templar, trust_as_template
from ansible_collections.englab.mlops.plugins.action import check_variables as action

REPO = Path(__file__).resolve().parents[4]
CHECK = "englab.mlops.check_variables"


def run(task_vars: dict[str, Any]) -> dict[str, Any]:
    task = Task()
    task.args = {}
    task.check_mode = False
    plugin = action.ActionModule(
        task=task,
        connection=mock.MagicMock(),
        play_context=mock.MagicMock(),
        loader=DataLoader(),
        templar=Templar(loader=DataLoader(), variables=task_vars),
        shared_loader_obj=mock.MagicMock(),
    )
    return plugin.run(task_vars=task_vars)


def test_reads_the_argument_specs_of_the_collection_it_belongs_to():
    assert (Path(action.COLLECTION_ROOT) / "roles" / "provision" / "meta" / "argument_specs.yml").is_file()


def test_documented_and_foreign_variables_pass():
    result = run(
        {"mlops_target": "gcp", "tracking_server_instances": 2, "ansible_host": "x", "__provision_a": 1}
    )
    assert not result.get("failed")
    assert result["changed"] is False
    assert result["unknown_variables"] == []


def test_a_typo_is_refused_with_the_suggestion():
    result = run({"mlops_target": "local", "mlops_targt": "gcp"})
    assert result["failed"] is True
    assert result["msg"] == "unknown variable mlops_targt: did you mean mlops_target?"
    assert result["unknown_variables"] == ["mlops_targt"]
    assert result["changed"] is False


def test_a_port_colliding_with_a_default_of_another_role_is_refused():
    # tracking_server_instances defaults to 2 (roles/tracking_server/defaults): 442-443 holds nginx's 443.
    result = run({"mlops_target": "local", "tracking_server_port": 442})
    assert result["failed"] is True
    assert result["msg"] == (
        "tracking_server_port to tracking_server_port + tracking_server_instances - 1 (the MLflow instances, "
        "442-443) must not include tracking_server_https_port, got 443. Nothing was changed."
    )


def test_value_rules_run_only_on_values_of_the_right_type():
    result = run({"serving_node_cpus": "two"})
    assert result["failed"] is True
    assert "serving_node_cpus" in result["msg"] and "positive number" not in result["msg"]


def test_a_wrong_value_is_refused_in_one_line_without_the_spec():
    # Templated first, as the role's validation does (playbook and -e values are trusted templates).
    result = run({"mlops_target": trust_as_template("{{ wanted }}"), "wanted": "aws"})
    assert result["failed"] is True
    # the template is named too: it points at the variable that holds the wrong value
    assert (
        result["msg"]
        == "value of mlops_target must be one of: local, gcp, got: aws (mlops_target is {{ wanted }})"
    )
    assert "argument_spec_data" not in result
    assert len(repr(result)) < 300


def test_a_value_that_needs_its_role_is_left_to_the_role():
    # role_path exists only inside the role: the role's own validation judges this one.
    template = trust_as_template("{{ role_path }}/../../terraform")
    result = run({"mlops_terraform_dir": template, "mlops_target": "local"})
    assert not result.get("failed"), result


# --- every playbook runs the check first ---------------------------------------------------------


def first_play(playbook: Path) -> tuple[Path, dict[str, Any]]:
    """The play that runs first, following import_playbook."""
    first = yaml.safe_load(playbook.read_text())[0]
    imported = first.get("ansible.builtin.import_playbook") or first.get("import_playbook")
    if imported:
        return first_play(playbook.parent / imported)
    return playbook, first


PLAYBOOKS = sorted(p.name for p in (REPO / "playbooks").glob("*.yml"))


def test_the_playbooks_are_found():
    assert {"destroy.yml", "provision.yml", "site.yml", "deploy.yml", "train.yml"} <= set(PLAYBOOKS)


@pytest.mark.parametrize("name", PLAYBOOKS)
def test_every_playbook_checks_its_variables_before_anything_else(name):
    source, play = first_play(REPO / "playbooks" / name)
    assert play["hosts"] == "localhost", source
    first_tasks = play.get("pre_tasks") or ([] if play.get("roles") else play.get("tasks", []))
    assert first_tasks, f"{source.name}: the first play runs roles before any task"
    task = first_tasks[0]
    assert CHECK in task, f"{source.name}: the first task is {task.get('name')!r}, not {CHECK}"
    # Runs whatever --tags a user picks (provision_preflight, provision_destroy, ...).
    assert task.get("tags") == ["always"]
