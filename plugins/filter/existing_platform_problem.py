# -*- coding: utf-8 -*-
# Copyright (c) englab MLOps engineers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
name: existing_platform_problem
short_description: Why a controller directory is not an existing platform's mlops_secrets_dir
version_added: 0.2.0
author: englab MLOps engineers (@englab)
description:
  - The entry points that act on an existing platform (deploy, rollback, undeploy, train, destroy) refuse a
    C(mlops_secrets_dir) that does not hold the platform's C(tracking_admin) (destroy - C(tracking_admin),
    C(known_hosts), C(ssh_login_ed25519) or C(terraform)), so a typo'd directory is not filled with new
    passwords.
  - With the C(gcp_secret_manager) store the passwords live in Secret Manager and a fresh directory (an AWX
    job's) is accepted; destroy then still needs C(known_hosts), C(ssh_login_ed25519) or C(terraform) unless
    O(state_bucket) keeps the Terraform state.
  - Returns an empty string when the directory is fine, else one message naming the variable.
options:
  _input:
    description: The C(mlops_secrets_dir) given.
    type: str
    required: true
  store:
    description: The secret store in force (C(controller) or C(gcp_secret_manager)).
    type: str
    default: controller
  destroying:
    description: Whether the entry point is destroy.
    type: bool
    default: false
  state_bucket:
    description: C(mlops_gcp_state_bucket); a non-empty one keeps the Terraform state off the controller.
    type: str
    default: ""
"""

EXAMPLES = r"""
- name: Check mlops_secrets_dir holds the existing platform's secrets
  ansible.builtin.assert:
    that: __problem | length == 0
    fail_msg: "{{ __problem }}"
  vars:
    __problem: "{{ mlops_secrets_dir | englab.mlops.existing_platform_problem(store='controller') }}"
"""

RETURN = r"""
_value:
  description: The refusal, or an empty string.
  type: str
"""

from ansible_collections.englab.mlops.plugins.module_utils.input_rules import existing_platform_problem


def existing_platform_problem_filter(secrets_dir, store="controller", destroying=False, state_bucket=""):
    return (
        existing_platform_problem(secrets_dir, store or "controller", bool(destroying), state_bucket or "")
        or ""
    )


class FilterModule(object):
    def filters(self):
        return {"existing_platform_problem": existing_platform_problem_filter}
