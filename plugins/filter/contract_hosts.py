# -*- coding: utf-8 -*-
# Copyright (c) englab MLOps engineers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
name: contract_hosts
short_description: Map Terraform outputs to the hosts of the englab.mlops inventory contract
version_added: 0.1.0
author: englab MLOps engineers (@englab)
description:
  - Validates the outputs of the englab.mlops Terraform root (or the local Docker driver's
    description in the same shape) and returns one entry per node with its name, its groups
    (C(mlops) and its role group) and the contract's host variables, ready for
    M(ansible.builtin.add_host).
  - Malformed input fails with a message naming the bad output; nothing is returned.
  - See C(docs/inventory-contract.md) in the collection.
options:
  _input:
    description:
      - The outputs, either as returned by C(terraform output -json) (each output a mapping
        with C(value)) or as plain values.
      - Required outputs are C(nodes), C(tracking_url), C(db_host), C(db_port), C(db_name),
        C(db_user), C(db_password_secret), C(db_sslmode), C(artifact_destination),
        C(repository_url), C(repository_login); on C(gcp) also C(ssh_user) and C(project_id).
    type: dict
    required: true
  target:
    description: The provision driver the outputs come from.
    type: str
    choices: [gcp, local]
    default: gcp
  name_prefix:
    description: The platform's O(name_prefix), recorded as C(mlops_name_prefix).
    type: str
    default: ""
  secrets_dir:
    description: Controller directory of generated secrets, recorded as C(mlops_secrets_dir).
    type: str
    default: ""
  connection:
    description:
      - How Ansible reaches the nodes. Every SSH path logs in as O(ssh_user) with
        C(ansible_become=true), the key O(ssh_private_key_file), and host keys accepted on
        first sight into O(known_hosts_file) under an alias holding the node's instance id.
      - C(iap) (default on gcp) is SSH through an IAP tunnel, C(external) SSH to the node's
        external IP, C(ssh) (default on local) SSH to the container's loopback through
        C(docker exec -i NODE socat - TCP:127.0.0.1:22). C(docker) uses the
        C(community.docker.docker) connection as root (Molecule, and tests of the gcp code
        path).
    type: str
    choices: [iap, external, ssh, docker]
  gcloud_credentials_file:
    description:
      - Service account key the IAP tunnel's C(gcloud) should use
        (C(CLOUDSDK_AUTH_CREDENTIAL_FILE_OVERRIDE)), for example the key an AWX Google
        credential injects. Empty uses gcloud's own login.
    type: str
    default: ""
  ssh_user:
    description:
      - The login user of the SSH connections (on gcp the OS Login user). Empty takes the
        C(ssh_user) output; an SSH connection with neither fails naming C(mlops_ssh_user).
    type: str
    default: ""
  ssh_private_key_file:
    description: Private key of O(ssh_user) on the controller (C(ansible_ssh_private_key_file)).
    type: str
    default: ""
  known_hosts_file:
    description: The platform's known_hosts file. Empty means C(<secrets_dir>/known_hosts).
    type: str
    default: ""
  ca_certificate:
    description:
      - The platform CA certificate on the controller, recorded as C(mlops_ca_certificate).
        Empty means C(<secrets_dir>/tracking_ca.crt), where the englab.mlops.platform_ca role keeps it by default.
    type: str
    default: ""
"""

EXAMPLES = r"""
- name: Add the nodes Terraform created
  ansible.builtin.add_host: "{{ item.vars | combine({'name': item.name, 'groups': item.groups}) }}"
  loop: "{{ terraform_result.outputs | englab.mlops.contract_hosts(target='gcp', secrets_dir='/root/.config/englab-mlops/englab') }}"
  loop_control:
    label: "{{ item.name }}"
"""

RETURN = r"""
_value:
  description: One entry per node, sorted by name.
  type: list
  elements: dict
  contains:
    name:
      description: Inventory host name (the VM or container name).
      type: str
    groups:
      description: C(mlops) and the node's role group.
      type: list
      elements: str
    vars:
      description: Contract facts (C(mlops_*)) and connection variables (C(ansible_*)).
      type: dict
"""

from ansible.errors import AnsibleFilterError
from ansible_collections.englab.mlops.plugins.module_utils.inventory_contract import (
    ContractError,
    contract_hosts,
)


def _contract_hosts(outputs, target="gcp", **options):
    try:
        return contract_hosts(outputs, target, **options)
    except ContractError as err:
        raise AnsibleFilterError("englab.mlops.contract_hosts: %s" % err) from None


class FilterModule(object):
    def filters(self):
        return {"contract_hosts": _contract_hosts}
