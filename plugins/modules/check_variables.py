# -*- coding: utf-8 -*-
# Copyright (c) englab MLOps engineers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# This file only documents the action plugin plugins/action/check_variables.py.

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: check_variables
short_description: Refuse unknown or wrong englab.mlops variables before anything changes
version_added: 0.1.0
author: englab MLOps engineers (@englab)
description:
  - An action plugin that runs on the controller and changes nothing. Every playbook of the
    collection runs it as its first task; run it first in your own playbooks that apply the
    roles.
  - "A variable the play sees whose name is in one of the collection's namespaces (C(mlops_)
    and each role's prefix, C(common_) ... C(training_node_)) but that no role documents is
    refused, with the closest documented name suggested
    (C(unknown variable mlops_targt: did you mean mlops_target?)). Ansible itself silently
    ignores such a typo, so C(-e mlops_targt=gcp) would otherwise run the local target."
  - The documented names are the options of every entry point of every role's
    C(meta/argument_specs.yml) in the installed collection, the facts of the inventory
    contract (docs/inventory-contract.md) and the facts roles publish (C(mlops_ca_certificate),
    C(train_result)). Names starting with C(__) are internal and not checked.
  - The values of documented variables are validated with the same argument specs (type,
    choices, elements), so a wrong value stops with one line naming the variable, what is
    allowed and the value given, instead of the role's own validation printing its whole
    argument spec. A value that cannot be templated outside its role is left to the role.
extends_documentation_fragment:
  - action_common_attributes
attributes:
  check_mode:
    support: full
    details: Reads variables only; it runs the same in check mode.
  diff_mode:
    support: none
  idempotent:
    description: A second run with the same arguments reports no change.
    support: full
    details: Never changes anything.
  platform:
    platforms: posix
options: {}
notes:
  - Variables the play sees on the host it runs for are checked (extra vars, inventory
    variables of that host and its groups, play vars); host variables of other hosts are not.
"""

EXAMPLES = r"""
- name: Refuse unknown or wrong englab.mlops variables before anything changes
  hosts: localhost
  gather_facts: false
  pre_tasks:
    - name: Check the englab.mlops variables
      englab.mlops.check_variables:
      tags: [always]
  roles:
    - role: englab.mlops.provision
"""

RETURN = r"""
unknown_variables:
  description: Names in the collection's namespaces that no role documents.
  returned: always
  type: list
  elements: str
  sample: [mlops_targt]
msg:
  description: One line per unknown variable (with the suggestion) or wrong value.
  returned: always
  type: str
  sample: "unknown variable mlops_targt: did you mean mlops_target?"
"""
