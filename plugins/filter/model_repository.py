# -*- coding: utf-8 -*-
# Copyright (c) englab MLOps engineers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
name: model_repository
short_description: The Docker repository that holds a registered model's serving images
version_added: 0.1.0
author: englab MLOps engineers (@englab)
description:
  - Maps a registered MLflow model name to one Docker repository path component, a readable
    slug of the name and the first 12 hex digits of the SHA-256 of its exact UTF-8 bytes,
    for example C(englab-diabetes-4b1c0f9ae2d1).
  - Different names never share a repository (C(Diabetes) and C(diabetes), C(my model) and
    C(my-model) differ in their hash), so one model's deploy cannot overwrite the images
    another model's rollback needs. The slug is at most 40 characters, so the result always
    fits Docker's repository name rules and length limit.
options:
  _input:
    description: The registered model name, exactly as MLflow stores it.
    type: str
    required: true
"""

EXAMPLES = r"""
- name: Where the serving images of the model go
  ansible.builtin.set_fact:
    image_name: "{{ serving_node_repository_url }}/{{ serving_node_model_name | englab.mlops.model_repository }}"
"""

RETURN = r"""
_value:
  description: C(<slug>-<12 hex digits>), a valid Docker repository path component.
  type: str
"""

from ansible.errors import AnsibleFilterError
from ansible_collections.englab.mlops.plugins.module_utils.model_naming import model_repository


def _model_repository(name):
    try:
        return model_repository(name)
    except TypeError as exc:
        raise AnsibleFilterError("englab.mlops.model_repository: %s" % exc) from exc


class FilterModule(object):
    def filters(self):
        return {"model_repository": _model_repository}
