"""tests/support/recap.py: the PLAY RECAP parser the integration and e2e suites rely on."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from support.recap import parse_recap

OUTPUT = """\
TASK [englab.mlops.common : Install the base packages] ****
ok: [englab-db]

PLAY RECAP *********************************************************************
englab-db                  : ok=21   changed=0    unreachable=0    failed=0    skipped=19   rescued=0    ignored=0
serving-node               : ok=58   changed=2    unreachable=0    failed=1    skipped=33   rescued=0    ignored=0

Thursday 26 November 2026  12:14:52 +0000 (0:00:00.532)       0:01:14.700 *****
===============================================================================
englab.mlops.provision : Run the node containers ------------------------ 4.00s
"""


def test_counters_per_host():
    hosts = parse_recap(OUTPUT)
    assert set(hosts) == {"englab-db", "serving-node"}
    assert hosts["serving-node"]["changed"] == 2
    assert hosts["serving-node"]["failed"] == 1
    assert hosts["englab-db"] == {
        "ok": 21,
        "changed": 0,
        "unreachable": 0,
        "failed": 0,
        "skipped": 19,
        "rescued": 0,
        "ignored": 0,
    }


def test_the_profile_after_the_recap_is_not_read_as_hosts():
    assert "englab.mlops.provision" not in " ".join(parse_recap(OUTPUT))


def test_no_recap_no_hosts():
    assert parse_recap("ERROR! the playbook could not be found\n") == {}
