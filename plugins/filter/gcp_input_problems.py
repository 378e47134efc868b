# -*- coding: utf-8 -*-
# Copyright (c) englab MLOps engineers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
name: gcp_input_problems
short_description: What is wrong with the gcp target's inputs, checked on the controller
version_added: 0.2.0
author: englab MLOps engineers (@englab)
description:
  - Checks the variables of the provision role that reach Google Cloud or the Terraform root
    before anything is written or any remote call is made, and returns one message per problem
    (an empty list when every input is usable).
  - C(mlops_gcp_project), C(mlops_gcp_region), C(mlops_name_prefix) and a C(zone) in
    C(provision_terraform_variables) follow the bundled root's own validation rules; a value given
    in C(provision_terraform_variables) (C(project_id), C(region), C(prefix)) is judged instead of the
    role's variable, and named in the message.
  - C(mlops_gcp_state_bucket) follows Google's bucket naming rules; empty is allowed.
  - C(provision_gcp_credentials_file), when set, must be a readable JSON file whose C(type) is one
    Google's libraries accept. Only that field is read into a message, never the key itself.
  - Every key of C(provision_terraform_variables) must be a variable the root in
    C(mlops_terraform_dir) declares.
options:
  _input:
    description:
      - The inputs, keyed by their Ansible variable names, C(mlops_gcp_project), C(mlops_gcp_region),
        C(mlops_name_prefix), C(mlops_gcp_state_bucket), C(provision_gcp_credentials_file),
        C(provision_terraform_variables) and C(mlops_terraform_dir).
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: Check the gcp inputs
  ansible.builtin.assert:
    that: __problems | length == 0
    fail_msg: "{{ __problems | join('; ') }}"
  vars:
    __problems: >-
      {{ {'mlops_gcp_project': mlops_gcp_project, 'mlops_gcp_region': mlops_gcp_region,
          'mlops_name_prefix': mlops_name_prefix, 'mlops_terraform_dir': mlops_terraform_dir}
         | englab.mlops.gcp_input_problems }}
"""

RETURN = r"""
_value:
  description: One message a problem, each naming the variable, the allowed form and the value given.
  type: list
  elements: str
"""

import os

from ansible_collections.englab.mlops.plugins.module_utils.gcp_inputs import (
    gcp_input_problems,
    terraform_root_variables,
)


def gcp_input_problems_filter(inputs):
    """The module_utils function, with the root's variables read from mlops_terraform_dir."""
    inputs = dict(inputs)
    if inputs.get("mlops_terraform_dir"):
        inputs["mlops_terraform_dir"] = os.path.normpath(str(inputs["mlops_terraform_dir"]))
    return gcp_input_problems(inputs, terraform_root_variables(inputs.get("mlops_terraform_dir")))


class FilterModule(object):
    def filters(self):
        return {"gcp_input_problems": gcp_input_problems_filter}
