"""AWX as code: playbooks/vars/awx.yml holds the data playbooks/awx_setup.yml loops over.

The surveys may only ask for variables the roles document in meta/argument_specs.yml, with a
survey type that delivers the documented type, and every job template must run a playbook
that exists in this repository."""

from __future__ import annotations

import json
import re
import subprocess
from functools import cache
from pathlib import Path

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
VARS_FILE = ROOT / "playbooks" / "vars" / "awx.yml"
PLAYBOOK = ROOT / "playbooks" / "awx_setup.yml"
REQUIRED_TEMPLATES = {"provision", "site", "train", "deploy", "rollback", "destroy"}
BUILTIN_CREDENTIAL_TYPES = {"Google Compute Engine", "Machine"}
REFERENCE = re.compile(r"^\{\{\s*(\w+)\s*\}\}$")
# Every playbook's first task (tests/unit/plugins/action/test_check_variables.py); not an AWX object.
CHECK = "englab.mlops.check_variables"


def awx_tasks(play: dict) -> list[dict]:
    """The tasks that configure AWX: all but the variable check every playbook starts with."""
    return [task for task in play["tasks"] if CHECK not in task]


# Which survey question types can deliver a value of each argument_specs type. AWX surveys
# have no boolean or mapping type: such variables must not be asked.
SURVEY_TYPES_FOR = {
    "str": {"text", "textarea", "password", "multiplechoice"},
    "path": {"text"},
    "raw": {"text", "textarea"},
    "int": {"integer"},
    "float": {"float"},
    "list": {"multiselect"},
}

QUESTION = {
    "type": "object",
    "additionalProperties": False,
    "required": ["question_name", "variable", "type", "required"],
    "properties": {
        "question_name": {"type": "string", "minLength": 1},
        "question_description": {"type": "string"},
        "variable": {"type": "string", "pattern": "^[a-z][a-z0-9_]*$"},
        "type": {
            "enum": ["text", "textarea", "password", "integer", "float", "multiplechoice", "multiselect"]
        },
        "required": {"type": "boolean"},
        "default": {"type": ["string", "integer", "number"]},
        "choices": {"type": "array", "items": {"type": "string"}, "minItems": 1},
        "min": {"type": "integer"},
        "max": {"type": "integer"},
    },
}
NAMED = {"type": "object", "required": ["name"], "properties": {"name": {"type": "string", "minLength": 1}}}
SCHEMA = {
    "type": "object",
    "required": [
        "awx_organization",
        "awx_organizations",
        "awx_credential_types",
        "awx_credentials",
        "awx_execution_environments",
        "awx_projects",
        "awx_inventories",
        "awx_inventory_sources",
        "awx_job_templates",
        "awx_settings",
        "awx_secrets_dir",
    ],
    "properties": {
        "awx_organizations": {"type": "array", "items": NAMED},
        "awx_credential_types": {
            "type": "array",
            "minItems": 1,
            "items": {
                "allOf": [NAMED],
                "required": ["kind", "inputs", "injectors"],
                "properties": {
                    "kind": {"enum": ["cloud", "net"]},
                    "inputs": {
                        "type": "object",
                        "required": ["fields"],
                        "properties": {
                            "fields": {
                                "type": "array",
                                "items": {
                                    "type": "object",
                                    "required": ["id", "label", "type"],
                                    "properties": {
                                        "id": {"type": "string", "pattern": "^[a-z_]+$"},
                                        "type": {"enum": ["string", "boolean"]},
                                        "secret": {"type": "boolean"},
                                        "multiline": {"type": "boolean"},
                                    },
                                },
                            },
                            "required": {"type": "array", "items": {"type": "string"}},
                        },
                    },
                    "injectors": {
                        "type": "object",
                        "additionalProperties": False,
                        "properties": {
                            "file": {"type": "object"},
                            "env": {"type": "object"},
                            "extra_vars": {"type": "object"},
                        },
                    },
                },
            },
        },
        "awx_credentials": {
            "type": "array",
            "items": {"allOf": [NAMED], "required": ["credential_type", "inputs"]},
        },
        "awx_execution_environments": {
            "type": "array",
            "minItems": 1,
            "items": {
                "allOf": [NAMED],
                "required": ["image"],
                "properties": {"pull": {"enum": ["always", "missing", "never"]}},
            },
        },
        "awx_projects": {
            "type": "array",
            "minItems": 1,
            "items": {
                "allOf": [NAMED],
                "required": ["scm_type", "scm_url"],
                "properties": {"scm_type": {"const": "git"}},
            },
        },
        "awx_inventories": {"type": "array", "minItems": 1, "items": NAMED},
        "awx_settings": {
            "type": "array",
            "minItems": 1,
            "items": {
                "allOf": [NAMED],
                "required": ["value"],
                "properties": {"name": {"pattern": "^[A-Z_]+$"}},
            },
        },
        "awx_inventory_sources": {
            "type": "array",
            "minItems": 1,
            "items": {
                "allOf": [NAMED],
                "required": ["inventory", "source", "source_vars", "credential"],
                "properties": {"source": {"const": "gce"}},
            },
        },
        "awx_job_templates": {
            "type": "array",
            "minItems": 1,
            "items": {
                "allOf": [NAMED],
                "required": [
                    "job_type",
                    "inventory",
                    "project",
                    "playbook",
                    "execution_environment",
                    "credentials",
                    "survey_enabled",
                    "survey_spec",
                    "allow_simultaneous",
                    "ask_variables_on_launch",
                    "extra_vars",
                ],
                "properties": {
                    "extra_vars": {"type": "object", "required": ["mlops_secrets_dir"]},
                    "job_type": {"enum": ["run", "check"]},
                    "playbook": {"type": "string", "pattern": r"^playbooks/[a-z_]+\.yml$"},
                    "credentials": {"type": "array", "items": {"type": "string"}},
                    "survey_spec": {
                        "type": "object",
                        "required": ["name", "description", "spec"],
                        "properties": {"spec": {"type": "array", "minItems": 1, "items": QUESTION}},
                    },
                },
            },
        },
    },
}


class _Loader(yaml.SafeLoader):
    """yaml.SafeLoader that reads Ansible's !unsafe tag as the plain string it marks."""


_Loader.add_constructor("!unsafe", lambda loader, node: loader.construct_scalar(node))


@cache
def awx_vars() -> dict:
    return yaml.load(VARS_FILE.read_text(), Loader=_Loader)  # noqa: S506 - a SafeLoader subclass


def resolve(value: str) -> str:
    """Follow a bare "{{ name }}" reference to another variable of the vars file."""
    while isinstance(value, str) and (match := REFERENCE.match(value)):
        value = awx_vars()[match.group(1)]
    return value


@cache
def role_options() -> dict[str, list[tuple[str, dict]]]:
    """Variable name -> [(role, option spec)] over every entry point of every role."""
    options: dict[str, list[tuple[str, dict]]] = {}
    for specs_file in sorted(ROOT.glob("roles/*/meta/argument_specs.yml")):
        role = specs_file.parents[1].name
        try:
            entries = yaml.safe_load(specs_file.read_text())["argument_specs"] or {}
        except yaml.YAMLError as exc:
            raise AssertionError(f"{specs_file.relative_to(ROOT)} is not valid YAML: {exc}") from exc
        for entry in entries.values():
            for name, spec in (entry.get("options") or {}).items():
                options.setdefault(name, []).append((role, spec))
    return options


def templates() -> list[dict]:
    return awx_vars()["awx_job_templates"]


def questions() -> list[tuple[str, dict]]:
    return [(t["name"], q) for t in templates() for q in t["survey_spec"]["spec"]]


def names(key: str) -> set[str]:
    return {resolve(item["name"]) for item in awx_vars()[key]}


def test_vars_file_matches_the_schema():
    jsonschema.validate(awx_vars(), SCHEMA)


def test_schema_rejects_a_broken_template():
    broken = json.loads(json.dumps(awx_vars()))
    broken["awx_job_templates"][0]["survey_spec"]["spec"][0]["type"] = "boolean"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, SCHEMA)


def test_every_stage_has_a_job_template():
    stems = {Path(t["playbook"]).stem for t in templates()}
    assert stems >= REQUIRED_TEMPLATES, REQUIRED_TEMPLATES - stems
    assert len({resolve(t["name"]) for t in templates()}) == len(templates()), "duplicate template names"


@pytest.mark.parametrize("template", templates(), ids=lambda t: Path(t["playbook"]).stem)
def test_job_template_playbook_exists(template: dict):
    assert (ROOT / template["playbook"]).is_file(), f"{template['name']}: {template['playbook']} is missing"


@pytest.mark.parametrize("template", templates(), ids=lambda t: Path(t["playbook"]).stem)
def test_job_template_references_resolve(template: dict):
    assert resolve(template["inventory"]) in names("awx_inventories")
    assert resolve(template["project"]) in names("awx_projects")
    assert resolve(template["execution_environment"]) in names("awx_execution_environments")
    credentials = [resolve(c) for c in template["credentials"]]
    assert set(credentials) <= names("awx_credentials"), set(credentials) - names("awx_credentials")
    # AWX allows one credential per credential type on a job template
    kinds = [
        next(resolve(c["credential_type"]) for c in awx_vars()["awx_credentials"] if resolve(c["name"]) == n)
        for n in credentials
    ]
    assert len(kinds) == len(set(kinds)), kinds


@pytest.mark.parametrize(("template", "question"), questions(), ids=lambda v: v if isinstance(v, str) else "")
def test_survey_variable_is_a_documented_role_variable(template: str, question: dict):
    variable = question["variable"]
    assert variable in role_options(), (
        f"{template}: survey asks for {variable}, which no roles/*/meta/argument_specs.yml documents"
    )


@pytest.mark.parametrize(("template", "question"), questions(), ids=lambda v: v if isinstance(v, str) else "")
def test_survey_type_delivers_the_documented_type(template: str, question: dict):
    for role, spec in role_options().get(question["variable"], []):
        where = f"{template}: {question['variable']} ({role})"
        spec_type = spec.get("type", "str")
        assert question["type"] in SURVEY_TYPES_FOR.get(spec_type, set()), (
            f"{where}: survey type {question['type']} cannot deliver a {spec_type}"
        )
        if "choices" in spec:
            assert question["type"] in {"multiplechoice", "multiselect"}, f"{where}: has choices"
            assert set(question["choices"]) <= {str(c) for c in spec["choices"]}, where
        else:
            assert "choices" not in question, f"{where}: the argument spec has no choices"
        if spec.get("no_log"):
            assert question["type"] == "password", f"{where}: a secret must be a password question"


@pytest.mark.parametrize(("template", "question"), questions(), ids=lambda v: v if isinstance(v, str) else "")
def test_survey_default_is_valid(template: str, question: dict):
    if "default" not in question:
        return
    default = question["default"]
    where = f"{template}: {question['variable']}"
    if question["type"] == "integer":
        assert isinstance(default, int), where
        assert question.get("min", default) <= default <= question.get("max", default), where
    elif question["type"] == "multiplechoice":
        assert default in question["choices"], where
    else:
        assert isinstance(default, str), where
        assert question.get("min", 0) <= len(default) <= question.get("max", len(default)), where
    if question["required"]:
        assert default != "", f"{where}: a required question needs a default"


def test_survey_variables_are_unique_per_template():
    for template in templates():
        variables = [q["variable"] for q in template["survey_spec"]["spec"]]
        assert len(variables) == len(set(variables)), template["name"]


@pytest.mark.parametrize("credential_type", awx_vars()["awx_credential_types"], ids=lambda c: c["name"])
def test_credential_type_injectors_use_declared_fields(credential_type: dict):
    fields = {f["id"] for f in credential_type["inputs"]["fields"]}
    assert set(credential_type["inputs"].get("required", [])) <= fields
    used = set()
    for section in credential_type["injectors"].values():
        for key, value in section.items():
            used |= set(re.findall(r"\{\{\s*(?:tower\.filename\.)?(\w+)\s*\}\}", value))
            if key.startswith("template."):
                assert key.removeprefix("template.") in fields, key
    assert used <= fields, used - fields


def test_terraform_state_credential_feeds_the_provision_role():
    backend = next(
        c for c in awx_vars()["awx_credential_types"] if c["name"] == "englab Terraform GCS backend"
    )
    injected = set(backend["injectors"]["extra_vars"]) | set(backend["injectors"]["env"])
    assert {"mlops_gcp_state_bucket", "mlops_gcp_state_prefix", "GOOGLE_BACKEND_CREDENTIALS"} <= injected
    for variable in backend["injectors"]["extra_vars"]:
        assert any(role == "provision" for role, _unused in role_options().get(variable, [])), variable


@pytest.mark.parametrize("credential", awx_vars()["awx_credentials"], ids=lambda c: resolve(c["name"]))
def test_credentials_use_known_types_and_fields(credential: dict):
    custom = {c["name"]: c for c in awx_vars()["awx_credential_types"]}
    kind = credential["credential_type"]
    assert kind in custom or kind in BUILTIN_CREDENTIAL_TYPES, kind
    if kind in custom:
        fields = {f["id"] for f in custom[kind]["inputs"]["fields"]}
        assert set(credential["inputs"]) == fields, kind


def test_inventory_source_is_gce_configured_by_the_repository_file():
    """AWX's gce source adds `projects` from the credential; its config is the repository file."""
    source = awx_vars()["awx_inventory_sources"][0]
    match = re.fullmatch(
        r"\{\{ lookup\('ansible.builtin.file', playbook_dir ~ '/(.+)'\) \| from_yaml \}\}",
        source["source_vars"],
    )
    assert match, source["source_vars"]
    path = PLAYBOOK.parent / match.group(1)
    assert path.is_file(), path
    config = yaml.safe_load(path.read_text())
    assert config["plugin"] == "google.cloud.gcp_compute"
    assert "projects" not in config, "AWX adds projects only when the source variables have none"
    assert {"mlops", "training", "tracking", "serving"} <= set(config.get("groups", {}))
    credential = next(c for c in awx_vars()["awx_credentials"] if c["name"] == source["credential"])
    assert credential["credential_type"] == "Google Compute Engine"


def test_playbook_is_a_loop_over_the_vars_file():
    play = yaml.safe_load(PLAYBOOK.read_text())
    assert len(play) == 1 and play[0]["hosts"] == "localhost"
    assert play[0]["vars_files"] == ["vars/awx.yml"]
    looped = set()
    for task in awx_tasks(play[0]):
        module = next(k for k in task if k.startswith("awx.awx."))
        assert "when" not in task, f"{task['name']}: logic belongs in the data"
        match = REFERENCE.match(task["loop"])
        assert match and match.group(1) in awx_vars(), f"{task['name']}: loops over {task['loop']!r}"
        looped.add(match.group(1))
        if module == "awx.awx.credential":
            assert task.get("no_log") is True, "credential inputs are secrets"
    assert looped == {k for k in SCHEMA["required"] if k not in ("awx_organization", "awx_secrets_dir")}


@cache
def module_options(module: str) -> set[str]:
    out = subprocess.run(["ansible-doc", "-j", module], capture_output=True, text=True, check=True).stdout
    return set(next(iter(json.loads(out).values()))["doc"]["options"])


def test_playbook_passes_only_module_options():
    play = yaml.safe_load(PLAYBOOK.read_text())
    for task in awx_tasks(play[0]):
        module = next(k for k in task if k.startswith("awx.awx."))
        unknown = set(task[module]) - module_options(module)
        assert not unknown, f"{module}: unknown options {unknown}"


def test_playbook_syntax_check():
    result = subprocess.run(
        ["ansible-playbook", "--syntax-check", str(PLAYBOOK)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


# --- issue 17: the controller directory outlives a job ----------------------------------------------


@pytest.mark.parametrize("template", templates(), ids=lambda t: t["name"])
def test_every_job_gets_the_persistent_secrets_dir(template: dict):
    """A job's private data dir and HOME are thrown away: mlops_secrets_dir must not default into them."""
    extra = template["extra_vars"]
    assert resolve(extra["mlops_secrets_dir"]) == awx_vars()["awx_secrets_dir"]
    assert awx_vars()["awx_secrets_dir"].startswith("/") and "~" not in awx_vars()["awx_secrets_dir"]
    for name in extra:
        assert name in role_options(), f"{template['name']}: extra var {name} is no documented role variable"


def test_the_persistent_secrets_dir_is_exposed_to_jobs():
    settings = {item["name"]: item["value"] for item in awx_vars()["awx_settings"]}
    assert [resolve(path) for path in settings["AWX_ISOLATION_SHOW_PATHS"]] == [awx_vars()["awx_secrets_dir"]]


def test_the_playbook_passes_the_templates_extra_vars():
    play = yaml.safe_load(PLAYBOOK.read_text())
    task = next(t for t in awx_tasks(play[0]) if "awx.awx.job_template" in t)
    assert task["awx.awx.job_template"]["extra_vars"] == "{{ item.extra_vars | default(omit) }}"
