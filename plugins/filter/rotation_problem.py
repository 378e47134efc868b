# -*- coding: utf-8 -*-
# Copyright (c) englab MLOps engineers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
name: rotation_problem
short_description: Why mlops_rotate cannot be applied
version_added: 0.2.0
author: englab MLOps engineers (@englab)
description:
  - C(mlops_rotate) must name one platform secret of englab.mlops.platform_secret (C(db_password),
    C(tracking_admin), C(tracking_flask_secret_key), C(tracking_user/<name>), C(repository_user/<name>));
    an unknown name is refused with the known ones.
  - C(db_password) is refused on the gcp target, where it is Terraform's Cloud SQL password; the message
    points at C(provision_gcp_db_password_version).
  - Returns an empty string when the name can be rotated, else one message naming the variable.
options:
  _input:
    description: The C(mlops_rotate) given.
    type: str
    required: true
  target:
    description: C(mlops_target).
    type: str
    required: true
"""

EXAMPLES = r"""
- name: Check mlops_rotate
  ansible.builtin.assert:
    that: __problem | length == 0
    fail_msg: "{{ __problem }}"
  vars:
    __problem: "{{ mlops_rotate | englab.mlops.rotation_problem(mlops_target) }}"
"""

RETURN = r"""
_value:
  description: The refusal, or an empty string.
  type: str
"""

from ansible_collections.englab.mlops.plugins.plugin_utils.platform_secrets import rotation_problem


def rotation_problem_filter(name, target):
    return rotation_problem(name, target) or ""


class FilterModule(object):
    def filters(self):
        return {"rotation_problem": rotation_problem_filter}
