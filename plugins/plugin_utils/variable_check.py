# -*- coding: utf-8 -*-
# Copyright (c) englab MLOps engineers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which variables the collection knows, and the short refusal of any other or wrong one.

Ansible ignores a variable nobody reads, so ``-e mlops_targt=gcp`` would silently run the
local target (and, with destroy, remove it). The documented set is every option of every
role entry point (meta/argument_specs.yml), the inventory contract's facts and the few facts
roles publish; a name in the collection's namespaces outside that set is a typo. The same
argument specs also validate the values, so a wrong type or choice stops with one line
instead of the role's own validation printing the whole spec after it. Pure functions, so
pytest pins them; the action plugin englab.mlops.check_variables only gathers the input.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import difflib
import os
import re

import yaml
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible_collections.englab.mlops.plugins.module_utils.inventory_contract import CONTRACT_FACTS

# mlops_ (shared) and each role's prefix; __<role>_ names are internal and never checked.
NAMESPACES = (
    "mlops_",
    "common_",
    "platform_ca_",
    "database_",
    "docker_engine_",
    "provision_",
    "repository_",
    "serving_node_",
    "smoke_",
    "tracking_server_",
    "train_",
    "training_node_",
)
# Names roles read or publish that are no role option: the platform CA provision records
# (mlops_ca_certificate, with its key as an override), facts roles set for later plays.
PUBLISHED_FACTS = frozenset(
    (
        "mlops_ca_certificate",
        "mlops_ca_private_key",
        "backup_restoring",
        "common_node_instance_id",
        "database_counts",
        "tracking_server_archive",
        "train_result",
        "training_node_has_gpu",
    )
)
# Option keys the value check keeps: what a value may be, not whether it must be given
# (each role entry point judges required and defaults itself, with its own context).
_VALUE_KEYS = ("type", "choices", "elements", "options", "no_log", "aliases")


def _role_files(collection_root, *relative):
    """(role, parsed YAML) of roles/<role>/<relative> for every role that has that file."""
    roles_dir = os.path.join(collection_root, "roles")
    for role in sorted(os.listdir(roles_dir)):
        path = os.path.join(roles_dir, role, *relative)
        if os.path.isfile(path):
            with open(path, encoding="utf-8") as handle:
                yield role, yaml.safe_load(handle) or {}


def load_argument_specs(collection_root):
    """{role: {entry point: {option: spec}}} from roles/*/meta/argument_specs.yml."""
    specs = {}
    for role, data in _role_files(collection_root, "meta", "argument_specs.yml"):
        entries = data.get("argument_specs") or {}
        specs[role] = dict((entry, dict(spec.get("options") or {})) for entry, spec in entries.items())
    return specs


def documented_variables(specs):
    """Every name a user may set: role options, contract facts, published facts."""
    names = set(CONTRACT_FACTS) | set(PUBLISHED_FACTS)
    for entries in specs.values():
        for options in entries.values():
            names.update(options)
    return frozenset(names)


def in_namespace(name):
    """A user variable of this collection (internal __<role>_ names are not)."""
    return isinstance(name, str) and name.startswith(NAMESPACES)


def suggestion(name, documented):
    """The closest documented name, or None when nothing is close."""
    close = difflib.get_close_matches(name, sorted(documented), n=1, cutoff=0.6)
    return close[0] if close else None


def unknown_variables(names, documented):
    """[(name, suggestion or None)] for every namespaced name that is not documented, sorted."""
    return [
        (name, suggestion(name, documented))
        for name in sorted(set(names))
        if in_namespace(name) and name not in documented
    ]


def unknown_message(name, suggested):
    if suggested:
        return "unknown variable %s: did you mean %s?" % (name, suggested)
    return "unknown variable %s: no englab.mlops role documents it (see docs/variables.md)" % name


# A default that is a contract fact with a fallback, such as "{{ mlops_tracking_port | default(443) }}".
_FACT_OR_LITERAL = re.compile(r"^\{\{\s*(mlops_[a-z_]+)\s*\|\s*default\(([0-9]+)\)\s*\}\}$")


def literal_defaults(collection_root, given=None):
    """{name: value} of the roles' defaults that are no template: the partners a given port collides with.

    A default that reads a contract fact with a literal fallback counts too, as the fact's
    value in ``given`` or else the fallback.
    """
    given = given or {}
    defaults = {}
    for _role, data in _role_files(collection_root, "defaults", "main.yml"):
        for name, value in data.items():
            fact = _FACT_OR_LITERAL.match(_text(value).strip())
            if fact:
                defaults[name] = given.get(fact.group(1), int(fact.group(2)))
            elif "{{" not in _text(value):
                defaults[name] = value
    return defaults


def _text(value):
    """The value as text, to tell a template from a literal."""
    return value if isinstance(value, str) else repr(value)


def value_specs(specs):
    """One argument spec per role entry point, reduced to what a value may be."""
    reduced = []
    for role in sorted(specs):
        for entry in sorted(specs[role]):
            options = dict(
                (name, dict((key, spec[key]) for key in _VALUE_KEYS if key in spec))
                for name, spec in specs[role][entry].items()
            )
            reduced.append(("%s:%s" % (role, entry), options))
    return reduced


def value_errors(specs, values):
    """Argument-spec errors of the given values, each once, in the roles' own wording."""
    errors = []
    for _where, options in value_specs(specs):
        given = dict((name, value) for name, value in values.items() if name in options)
        if not given:
            continue
        result = ArgumentSpecValidator(dict((name, options[name]) for name in given)).validate(given)
        secrets = [str(given[name]) for name in given if options[name].get("no_log") and given[name]]
        for raw in result.error_messages:
            message = raw
            for secret in secrets:
                message = message.replace(secret, "********")
            if message not in errors:
                errors.append(message)
    return errors


def name_the_source(errors, raw_values):
    """Each error about a variable whose value is a template (a role default such as
    ``tracking_server_db_sslmode: "{{ mlops_db_sslmode }}"``) also names that template, so the
    message points at the variable the user actually set."""
    templated = dict(
        (name, raw.strip())
        for name, raw in raw_values.items()
        if isinstance(raw, str) and "{{" in raw and in_namespace(name)
    )
    named = []
    for message in errors:
        sources = [
            "%s is %s" % (name, raw)
            for name, raw in sorted(templated.items())
            if re.search(r"(?<![A-Za-z0-9_])%s(?![A-Za-z0-9_])" % re.escape(name), message)
        ]
        named.append("%s (%s)" % (message, "; ".join(sources)) if sources else message)
    return named


def refusal(unknown, errors):
    """The short message of a refused run: one line per problem, nothing else."""
    lines = [unknown_message(name, suggested) for name, suggested in unknown] + list(errors)
    return "\n".join(lines)
