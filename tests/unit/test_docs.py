"""The generated documentation matches the code it is generated from, and the guides hold together."""

from __future__ import annotations

import importlib.util
import re
import struct
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


def load_script(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def test_architecture_dot_is_generated_from_the_current_code():
    figure = load_script("architecture_figure")
    committed = (DOCS / "architecture.dot").read_text()
    assert committed == figure.build_dot(), (
        "docs/architecture.dot is stale: run scripts/architecture_figure.py"
    )


def test_architecture_figure_shows_every_terraform_resource_and_group():
    figure = load_script("architecture_figure")
    resources, _unused = figure.terraform_resources(ROOT / "terraform")
    assert resources, "no Terraform resources found in terraform/*.tf"
    dot = (DOCS / "architecture.dot").read_text()
    for resource in resources:
        assert figure.node_id("tf", resource["type"], resource["name"]) in dot, resource
    for group, _unused, _unused in figure.contract_groups(DOCS / "inventory-contract.md"):
        assert figure.node_id("grp", group) in dot, group


def test_rendered_figures_match_the_dot():
    dot = (DOCS / "architecture.dot").read_text()
    nodes = set(re.findall(r"^\s+(\w+) \[label=", dot, re.MULTILINE))
    svg = (DOCS / "architecture.svg").read_text()
    titles = set(re.findall(r"<g id=\"node\d+\" class=\"node\">\s*<title>([^<]+)</title>", svg))
    assert nodes == titles, f"SVG out of date: {nodes ^ titles}"
    png = (DOCS / "architecture.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", png[16:24])
    assert width >= 1200 and height >= 600, (width, height)


def test_variables_reference_is_up_to_date():
    generator = load_script("gen_variables_doc")
    assert (DOCS / "variables.md").read_text() == generator.render(), (
        "docs/variables.md is stale: run scripts/gen_variables_doc.py"
    )


def test_variables_reference_lists_every_role_variable():
    generator = load_script("gen_variables_doc")
    text = generator.render()
    for specs_file in ROOT.glob("roles/*/meta/argument_specs.yml"):
        for entry in (yaml.safe_load(specs_file.read_text())["argument_specs"] or {}).values():
            for name in entry.get("options") or {}:
                assert f"| `{name}` |" in text, name


def test_ansible_markup_becomes_markdown():
    generator = load_script("gen_variables_doc")
    assert generator.text("Use C(iap) or I(external) | B(x)") == "Use `iap` or external \\| x"


@pytest.mark.parametrize("page", sorted(DOCS.glob("*.md")), ids=lambda p: p.name)
def test_relative_links_resolve(page: Path):
    for target in LINK.findall(page.read_text()):
        if re.match(r"^[a-z]+:", target):
            continue
        assert (page.parent / target).exists(), f"{page.name}: broken link {target}"


def test_index_links_every_page():
    index = (DOCS / "README.md").read_text()
    for page in sorted(DOCS.glob("*.md")):
        if page.name != "README.md":
            assert f"({page.name})" in index, f"docs/README.md does not link {page.name}"
    assert "(architecture.svg)" in index or "architecture.svg" in index


def test_runbook_prices_the_machine_types_terraform_defaults_to():
    variables = (ROOT / "terraform" / "variables.tf").read_text()
    defaults = set(
        re.findall(
            r'variable\s+"\w*machine_type\w*"\s*\{[^}]*?default\s*=\s*"([a-z0-9-]+)"', variables, re.DOTALL
        )
    )
    assert defaults, "terraform/variables.tf declares no machine type defaults"
    runbook = (DOCS / "gcp-runbook.md").read_text()
    for machine_type in defaults:
        assert f"`{machine_type}`" in runbook, f"gcp-runbook.md has no cost line for {machine_type}"
