# -*- coding: utf-8 -*-
# Copyright (c) englab MLOps engineers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
name: model_name_problem
short_description: Why MLflow would refuse a registered model name
version_added: 0.1.0
author: englab MLOps engineers (@englab)
description:
  - Returns an empty string when MLflow accepts the value as a registered model name, and the
    reason otherwise, so a role can refuse a wrong name before it changes anything or asks the
    tracking server.
  - The rules are MLflow 3.17's (not blank, no C(/) or C(:), not C(.) and not starting with
    C(..)) and the registry's 256-character limit.
options:
  _input:
    description: The registered model name to check.
    type: raw
    required: true
"""

EXAMPLES = r"""
- name: Refuse a model name MLflow would refuse
  ansible.builtin.assert:
    that: serving_node_model_name | englab.mlops.model_name_problem == ''
    fail_msg: >-
      serving_node_model_name must be a registered model name MLflow accepts
      ({{ serving_node_model_name | englab.mlops.model_name_problem }}), got '{{ serving_node_model_name }}'.
"""

RETURN = r"""
_value:
  description: The reason the name is refused, or an empty string.
  type: str
"""

from ansible_collections.englab.mlops.plugins.module_utils.model_naming import model_name_problem


class FilterModule(object):
    def filters(self):
        return {"model_name_problem": model_name_problem}
