"""docker_engine's egress script: which rules it wants, from the blocked list and the node's resolvers.

The script is rendered from the role's template as the role renders it, then loaded as a module; no
iptables runs here (tests/e2e/test_container_egress.py checks the real chains on a serving node).
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType

import jinja2
import pytest

TEMPLATE = (
    Path(__file__).resolve().parents[3] / "roles" / "docker_engine" / "templates" / "englab-docker-egress.j2"
)
GCE_RESOLV_CONF = (
    "domain c.example.internal\nsearch c.example.internal google.internal\nnameserver 169.254.169.254\n"
)


def load(tmp_path: Path, blocked: list[str], resolv_conf: str) -> ModuleType:
    env = jinja2.Environment(autoescape=False)  # noqa: S701 a Python file, not HTML
    env.filters["comment"] = lambda text: "# " + text
    env.filters["to_json"] = json.dumps
    source = env.from_string(TEMPLATE.read_text()).render(
        ansible_managed="managed", __docker_engine_blocked=blocked
    )
    script = tmp_path / "englab-docker-egress.py"
    script.write_text(source)
    (tmp_path / "resolv.conf").write_text(resolv_conf)
    spec = importlib.util.spec_from_file_location("englab_docker_egress", script)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.RESOLV_CONF = (str(tmp_path / "absent"), str(tmp_path / "resolv.conf"))
    return module


def test_on_google_cloud_dns_to_the_metadata_server_stays_open_and_the_rest_is_rejected(tmp_path: Path):
    script = load(tmp_path, ["169.254.0.0/16"], GCE_RESOLV_CONF)
    assert script.wanted() == [
        ["-d", "169.254.169.254/32", "-p", "udp", "-m", "udp", "--dport", "53", "-j", "RETURN"],
        ["-d", "169.254.169.254/32", "-p", "tcp", "-m", "tcp", "--dport", "53", "-j", "RETURN"],
        ["-d", "169.254.0.0/16", "-j", "REJECT"],
    ]


@pytest.mark.parametrize(
    "resolv_conf",
    ["nameserver 127.0.0.11\noptions ndots:0\n", "nameserver 10.0.0.2\nnameserver fd00::1\n", ""],
)
def test_resolvers_outside_the_blocked_ranges_get_no_exception(tmp_path: Path, resolv_conf: str):
    script = load(tmp_path, ["169.254.0.0/16", "10.9.0.0/16"], resolv_conf)
    assert script.wanted() == [
        ["-d", "169.254.0.0/16", "-j", "REJECT"],
        ["-d", "10.9.0.0/16", "-j", "REJECT"],
    ]


def test_an_empty_list_wants_no_rule(tmp_path: Path):
    assert load(tmp_path, [], GCE_RESOLV_CONF).wanted() == []
