"""Which variables englab.mlops knows, and the short refusal of any other or wrong one."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import jinja2
import jinja2.meta
import pytest
import yaml
from ansible_collections.englab.mlops.plugins.module_utils.inventory_contract import CONTRACT_FACTS
from ansible_collections.englab.mlops.plugins.plugin_utils import variable_check as vc

REPO = Path(__file__).resolve().parents[4]
SPECS = vc.load_argument_specs(str(REPO))
DOCUMENTED = vc.documented_variables(SPECS)


def test_every_role_and_entry_point_is_read():
    assert set(SPECS) == {p.parent.parent.name for p in REPO.glob("roles/*/meta/argument_specs.yml")}
    assert set(SPECS["provision"]) == {"main", "destroy"}
    assert set(SPECS["serving_node"]) == {"main", "deploy", "rollback", "undeploy"}


@pytest.mark.parametrize(
    "name",
    [
        "mlops_target",
        "mlops_destroy_data",  # provision's destroy entry point (an anchor of main's options)
        "serving_node_model_version",  # only in serving_node's deploy entry point
        "tracking_server_instances",
        "mlops_tracking_url",  # contract fact, set by provision
        "mlops_ca_certificate",  # recorded by provision (the platform CA)
    ],
)
def test_documented_names(name):
    assert name in DOCUMENTED
    assert vc.unknown_variables([name], DOCUMENTED) == []


def test_contract_facts_are_documented():
    assert set(CONTRACT_FACTS) <= DOCUMENTED


@pytest.mark.parametrize(
    ("typo", "meant"),
    [
        ("mlops_targt", "mlops_target"),
        ("mlops_destroy_dta", "mlops_destroy_data"),
        ("serving_node_model_versoin", "serving_node_model_version"),
        ("tracking_server_instance", "tracking_server_instances"),
        ("train_timout", "train_timeout"),
        ("docker_engine_package_sourc", "docker_engine_package_source"),
    ],
)
def test_a_typo_is_unknown_and_the_closest_name_is_suggested(typo, meant):
    assert vc.unknown_variables([typo, "mlops_target"], DOCUMENTED) == [(typo, meant)]
    assert vc.refusal([(typo, meant)], []) == f"unknown variable {typo}: did you mean {meant}?"


def test_a_name_close_to_nothing_says_so():
    (unknown,) = vc.unknown_variables(["mlops_qqqqqqqqqqqqqqqqqq"], DOCUMENTED)
    assert unknown == ("mlops_qqqqqqqqqqqqqqqqqq", None)
    assert vc.refusal([unknown], []) == (
        "unknown variable mlops_qqqqqqqqqqqqqqqqqq: no englab.mlops role documents it (see docs/variables.md)"
    )


@pytest.mark.parametrize(
    "name",
    [
        "__provision_network",
        "__serving_node_slots",
        "ansible_host",
        "inventory_hostname",
        "awx_organization",
        "x",
    ],
)
def test_names_outside_the_namespaces_are_not_checked(name):
    assert vc.unknown_variables([name], DOCUMENTED) == []


def test_unknown_names_are_reported_once_and_sorted():
    names = ["train_timout", "mlops_targt", "mlops_targt", "mlops_target"]
    assert [n for n, _unused in vc.unknown_variables(names, DOCUMENTED)] == ["mlops_targt", "train_timout"]


def test_wrong_values_in_the_roles_own_wording():
    errors = vc.value_errors(
        SPECS, {"mlops_target": "aws", "tracking_server_port": "https", "mlops_name_prefix": "ok"}
    )
    assert errors == [
        "value of mlops_target must be one of: local, gcp, got: aws",
        "argument 'tracking_server_port' is of type str and we were unable to convert to int: "
        "\"'https'\" cannot be converted to an int",
    ]


def test_good_values_pass_and_nothing_is_required():
    # Only what is given is judged: a required option a role needs is that role's business.
    assert vc.value_errors(SPECS, {"mlops_target": "gcp", "tracking_server_port": "5000"}) == []
    assert vc.value_errors(SPECS, {}) == []


def test_an_error_is_reported_once_across_entry_points():
    # provision main and destroy share one set of options: one line, not two.
    (error,) = vc.value_errors(SPECS, {"mlops_destroy_data": "perhaps"})
    assert error.startswith(
        "argument 'mlops_destroy_data' is of type str and we were unable to convert to bool: "
        "The value 'perhaps' is not a valid boolean."
    )


def test_a_secret_value_is_masked_in_the_message():
    specs: dict[str, Any] = {"r": {"main": {"r_token": {"type": "int", "no_log": True}}}}
    (error,) = vc.value_errors(specs, {"r_token": "hunter2"})
    assert "r_token" in error
    assert "hunter2" not in error


def test_required_and_defaults_are_not_part_of_the_value_check():
    specs: dict[str, Any] = {"r": {"main": {"r_a": {"type": "str", "required": True, "default": "x"}}}}
    assert vc.value_specs(specs) == [("r:main", {"r_a": {"type": "str"}})]
    assert vc.value_errors(specs, {"r_b": 1}) == []


# --- the documented set is complete: the check can never refuse a variable the collection reads -------

# Keys whose value Ansible evaluates as a bare Jinja expression.
BARE = {"when", "that", "changed_when", "failed_when", "until"}


class _AnyName(dict):
    """Ansible's filters and tests are not Jinja's: accept any name, only variables matter here."""

    def __contains__(self, key: object) -> bool:
        return True

    def get(self, key: Any, default: Any = None) -> Any:
        return super().get(key, len)  # any callable: the generator only needs one to exist


ENV = jinja2.Environment(extensions=["jinja2.ext.do", "jinja2.ext.loopcontrols"])  # noqa: S701
ENV.filters = _AnyName(ENV.filters)
ENV.tests = _AnyName(ENV.tests)


def _names(template: str) -> set[str]:
    return set(jinja2.meta.find_undeclared_variables(ENV.parse(template)))


def _walk(node: Any, key: str = "") -> set[str]:
    names: set[str] = set()
    if isinstance(node, dict):
        for k, v in node.items():
            names |= _walk(v, str(k))
    elif isinstance(node, list):
        for item in node:
            names |= _walk(item, key)
    elif isinstance(node, str):
        if key in BARE:
            names |= _names("{{ " + node + " }}")
        elif "{{" in node or "{%" in node:
            names |= _names(node)
    return names


class _Loader(yaml.SafeLoader):
    """YAML as Ansible reads it; !unsafe strings are never templated, so they read no variable."""


_Loader.add_constructor("!unsafe", lambda loader, node: None)
_Loader.add_constructor("!vault", lambda loader, node: None)


def referenced_variables() -> dict[str, set[str]]:
    """Namespaced variable names read in Jinja anywhere in roles/ and playbooks/, by file."""
    found: dict[str, set[str]] = {}
    files = [*REPO.glob("roles/**/*.yml"), *REPO.glob("playbooks/**/*.yml")]
    for path in files:
        if "molecule" in path.parts:
            continue
        names = _walk(yaml.load(path.read_text(), Loader=_Loader))  # noqa: S506
        found[str(path.relative_to(REPO))] = {n for n in names if vc.in_namespace(n)}
    for path in REPO.glob("roles/*/templates/**/*.j2"):
        found[str(path.relative_to(REPO))] = {n for n in _names(path.read_text()) if vc.in_namespace(n)}
    return found


def test_every_variable_the_collection_reads_is_documented():
    found = referenced_variables()
    assert len(found) > 50  # the walk really read the roles
    undocumented = {f"{name} ({path})" for path, names in found.items() for name in names - DOCUMENTED}
    assert undocumented == set()


def test_the_walk_finds_variables_in_every_form():
    sample = {
        "a": "{{ mlops_target }}",
        "when": "mlops_gcp_connection == 'iap'",
        "loop": "{{ serving_node_models | default([]) }}",
        "b": "{% if train_x %}{{ __train_y }}{% endif %}",
        "c": "plain mlops_nothing",
    }
    assert {n for n in _walk(sample) if vc.in_namespace(n)} == {
        "mlops_target",
        "mlops_gcp_connection",
        "serving_node_models",
        "train_x",
    }


def test_documented_set_holds_every_mlops_name_in_the_docs():
    # docs/inventory-contract.md's fact table names what provision sets: all accepted.
    table = (REPO / "docs" / "inventory-contract.md").read_text().split("## Facts", 1)[1].split("##", 1)[0]
    names = set(re.findall(r"`(mlops_[a-z_]+)`", table))
    assert names and names <= DOCUMENTED


def test_an_error_about_a_templated_default_names_the_variable_behind_it():
    errors = [
        "value of tracking_server_db_sslmode must be one of: disable, require, got: sometimes",
        "value of serving_node_proxy_port must be an int",
    ]
    raw = {
        "tracking_server_db_sslmode": "{{ mlops_db_sslmode }}",
        "serving_node_proxy_port": "80x",  # given literally: nothing to add
        "tracking_server_db_sslmode_extra": "{{ other }}",  # a longer name is not this one
    }
    assert vc.name_the_source(errors, raw) == [
        "value of tracking_server_db_sslmode must be one of: disable, require, got: sometimes"
        " (tracking_server_db_sslmode is {{ mlops_db_sslmode }})",
        "value of serving_node_proxy_port must be an int",
    ]
