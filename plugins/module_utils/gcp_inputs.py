# -*- coding: utf-8 -*-
# Copyright (c) englab MLOps engineers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The gcp target's inputs, checked on the controller before anything is written or called.

Pure functions (the provision role's preflight reads them through the filter
englab.mlops.gcp_input_problems). Each rule is the one the bundled Terraform root validates, or
Google's own where the root has none (the state bucket, the credentials file);
tests/integration/test_gcp_rules_agree.py holds the shared ones equal to the root's on a table
of values. Every message names the Ansible variable the user sets, the allowed form and the
value given; none ever shows what a credentials file holds.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import re

# The same expressions as terraform/variables.tf (project_id, region, zone, prefix).
PROJECT_RE = re.compile(r"[a-z][a-z0-9-]{4,28}[a-z0-9]")
REGION_RE = re.compile(r"[a-z]+-[a-z]+[0-9]+")
ZONE_RE = re.compile(r"[a-z]+-[a-z]+[0-9]+-[a-z]")
PREFIX_RE = re.compile(r"([a-z][a-z0-9-]{0,18})?")

# Google's bucket naming rules (cloud.google.com/storage/docs/buckets#naming).
_BUCKET_RE = re.compile(r"[a-z0-9][a-z0-9_.-]*[a-z0-9]")
_IPV4_RE = re.compile(r"[0-9]{1,3}(\.[0-9]{1,3}){3}")

# The "type" of every credentials file Google's client libraries (and Terraform's provider) accept.
CREDENTIAL_TYPES = (
    "authorized_user",
    "external_account",
    "external_account_authorized_user",
    "gdch_service_account",
    "impersonated_service_account",
    "service_account",
)

# Terraform variables the role passes itself, and the Ansible variables they come from.
ROLE_VARIABLES = (
    ("project_id", "mlops_gcp_project"),
    ("region", "mlops_gcp_region"),
    ("prefix", "mlops_name_prefix"),
)

_VARIABLE_RE = re.compile(r'^\s*variable\s+"([A-Za-z_][A-Za-z0-9_-]*)"\s*\{', re.MULTILINE)


def _shown(value):
    return json.dumps(value)


def bucket_name_problem(name):
    """Why ``name`` is not a GCS bucket name Google would accept, or "" when it is one."""
    dotted = "." in name
    if not (3 <= len(name) <= (222 if dotted else 63)) or not _BUCKET_RE.fullmatch(name):
        return (
            "3-63 characters (up to 222 with dots, 63 between dots) of lower-case letters, digits, "
            "'-', '_' and '.', starting and ending with a letter or digit"
        )
    if dotted and any(not 1 <= len(part) <= 63 for part in name.split(".")):
        return "each dot-separated part 1-63 characters"
    if _IPV4_RE.fullmatch(name):
        return "not an IP address"
    if name.startswith("goog") or "google" in name:
        return "not starting with goog nor containing google"
    return ""


def credentials_problem(path):
    """Why the credentials file at ``path`` cannot be used, or "" when it is a known kind.

    Only the file's ``type`` field is ever looked at or reported.
    """
    full = os.path.expanduser(path)
    if not os.path.exists(full):
        return "does not exist on the controller"
    if not os.path.isfile(full):
        return "is not a regular file"
    try:
        with open(full, encoding="utf-8") as handle:
            data = json.load(handle)
    except OSError:
        return "cannot be read (check its permissions)"
    except ValueError:
        return "is not a JSON credentials file"
    kind = data.get("type") if isinstance(data, dict) else None
    if kind not in CREDENTIAL_TYPES:
        return "is not a Google credentials file of a known type (%s); its type is %s" % (
            ", ".join(CREDENTIAL_TYPES),
            _shown(kind) if isinstance(kind, str) and len(kind) <= 40 else "missing",
        )
    return ""


def terraform_root_variables(root):
    """Names of the variables a Terraform root declares (``*.tf`` and ``*.tf.json``), sorted.

    None when ``root`` holds no Terraform configuration at all.
    """
    if not isinstance(root, str) or not os.path.isdir(root):
        return None
    names = set()
    found = False
    for entry in sorted(os.listdir(root)):
        full = os.path.join(root, entry)
        if not os.path.isfile(full) or not entry.endswith((".tf", ".tf.json")):
            continue
        found = True
        try:
            with open(full, encoding="utf-8") as handle:
                text = handle.read()
        except (OSError, ValueError):
            continue
        if entry.endswith(".tf"):
            names.update(_VARIABLE_RE.findall(text))
            continue
        try:
            data = json.loads(text)
        except ValueError:
            continue
        blocks = data.get("variable", {}) if isinstance(data, dict) else {}
        for block in blocks if isinstance(blocks, list) else [blocks]:
            if isinstance(block, dict):
                names.update(block)
    return sorted(names) if found else None


def _effective(inputs):
    """What Terraform gets for each variable the role passes: (the Ansible name to report, value).

    A value in provision_terraform_variables wins over the role's own, so that one is judged.
    """
    tf_vars = inputs.get("provision_terraform_variables") or {}
    return {
        tf_name: ("provision_terraform_variables.%s" % tf_name, tf_vars[tf_name])
        if tf_name in tf_vars
        else (ansible_name, inputs.get(ansible_name, ""))
        for tf_name, ansible_name in ROLE_VARIABLES
    }


def _project_problems(name, value):
    if not isinstance(value, str) or not value:
        return [
            "%s is required when mlops_target is gcp (or set GCP_PROJECT): the id of a Google Cloud project"
            % name
        ]
    if not PROJECT_RE.fullmatch(value):
        return [
            "%s must be a Google Cloud project id: 6-30 characters of lower-case letters, digits and '-', "
            "starting with a letter and not ending with '-' (the id, not the project's name or number), got %s"
            % (name, _shown(value))
        ]
    return []


def _region_zone_problems(region, zone):
    name, value = region
    if not isinstance(value, str) or not REGION_RE.fullmatch(value):
        return [
            "%s must be a Google Cloud region such as europe-west1 or us-central1, got %s"
            % (name, _shown(value))
        ]
    if zone is None:
        return []
    if not isinstance(zone, str) or not ZONE_RE.fullmatch(zone):
        return [
            "provision_terraform_variables.zone must be a Google Cloud zone such as europe-west1-b "
            "(leave it out for zone b of the region), got %s" % _shown(zone)
        ]
    if not zone.startswith(value + "-"):
        return [
            "provision_terraform_variables.zone must be a zone of %s %s, e.g. %s-b (leave it out for "
            "zone b of the region), got %s" % (name, value, value, _shown(zone))
        ]
    return []


def _prefix_problems(name, value):
    if isinstance(value, str) and PREFIX_RE.fullmatch(value):
        return []
    return [
        "%s must be empty or, on gcp, up to 19 characters of lower-case letters, digits and '-', "
        "starting with a letter (it starts every Google resource name), got %s" % (name, _shown(value))
    ]


def _bucket_problems(bucket):
    if not bucket:
        return []
    why = bucket_name_problem(bucket) if isinstance(bucket, str) else "a string"
    if not why:
        return []
    return [
        "mlops_gcp_state_bucket must be empty (state kept in the Terraform work dir) or a GCS bucket "
        "name: %s, got %s" % (why, _shown(bucket))
    ]


def _credentials_problems(path):
    why = credentials_problem(path) if path else ""
    if not why:
        return []
    return [
        "provision_gcp_credentials_file %s %s (set it, or GOOGLE_APPLICATION_CREDENTIALS, to a service-account "
        "key or another Google credentials JSON file; empty uses Application Default Credentials)"
        % (path, why)
    ]


def _root_problems(terraform_variables, root_variables, terraform_dir):
    if root_variables is None:
        return ["mlops_terraform_dir %s holds no Terraform configuration (*.tf)" % terraform_dir]
    unknown = sorted(set(terraform_variables) - set(root_variables))
    if not unknown:
        return []
    return [
        "provision_terraform_variables has %s, which the Terraform root %s does not declare; its variables "
        "are: %s" % (", ".join(unknown), terraform_dir, ", ".join(root_variables))
    ]


# The bundled root's training_machine_type default (terraform/variables.tf).
DEFAULT_TRAINING_MACHINE_TYPE = "c2-standard-8"


def _gpu_problems(terraform_variables, root_variables):
    """Attached GPUs only on N1 (the root's validation, checked before anything is written)."""
    if "gpu_count" not in terraform_variables or "gpu_count" not in (root_variables or []):
        return []
    try:
        count = int(str(terraform_variables["gpu_count"]).strip())
    except ValueError:
        return []  # not a number: Terraform's own type check names it
    machine = terraform_variables.get("training_machine_type", DEFAULT_TRAINING_MACHINE_TYPE)
    if count <= 0 or str(machine).startswith("n1-"):
        return []
    return [
        "provision_terraform_variables.gpu_count > 0 (attached GPUs) needs an N1 "
        "provision_terraform_variables.training_machine_type (n1-...); A2, A3 and G2 types have built-in "
        "GPUs (use them with gpu_count 0) and other families take none; got gpu_count %s with "
        "training_machine_type %s" % (_shown(terraform_variables["gpu_count"]), _shown(machine))
    ]


# Root variables the role owns and never takes from provision_terraform_variables.
ROLE_OWNED = {
    "db_password": "provision_gcp_db_password_version (the role generates the password of each version)",
    "db_password_version": "provision_gcp_db_password_version",
}


def _password_problems(terraform_variables, version):
    """The password and its version come from the role only: a second source could split them."""
    problems = [
        "provision_terraform_variables.%s is refused: set %s instead" % (name, ROLE_OWNED[name])
        for name in sorted(set(terraform_variables) & set(ROLE_OWNED))
    ]
    if version is not None and (isinstance(version, bool) or not isinstance(version, int) or version < 1):
        problems.append(
            "provision_gcp_db_password_version must be a whole number from 1 (raise it by one to rotate the "
            "database password), got %s" % _shown(version)
        )
    return problems


def gcp_input_problems(inputs, root_variables):
    """Every problem with the gcp target's inputs, one message each; [] when all are usable.

    ``inputs`` holds the role's variables by their Ansible names (mlops_gcp_project, mlops_gcp_region,
    mlops_name_prefix, mlops_gcp_state_bucket, provision_gcp_credentials_file,
    provision_terraform_variables, mlops_terraform_dir, provision_gcp_db_password_version);
    ``root_variables`` is what
    terraform_root_variables() found in mlops_terraform_dir.
    """
    tf_vars = inputs.get("provision_terraform_variables") or {}
    effective = _effective(inputs)
    return (
        _project_problems(*effective["project_id"])
        + _region_zone_problems(effective["region"], tf_vars.get("zone"))
        + _prefix_problems(*effective["prefix"])
        + _bucket_problems(inputs.get("mlops_gcp_state_bucket", ""))
        + _credentials_problems(str(inputs.get("provision_gcp_credentials_file") or "").strip())
        + _root_problems(tf_vars, root_variables, inputs.get("mlops_terraform_dir", ""))
        + _gpu_problems(tf_vars, root_variables)
        + _password_problems(tf_vars, inputs.get("provision_gcp_db_password_version"))
    )
