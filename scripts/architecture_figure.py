"""Draw the platform's architecture from the code, so the figure cannot drift from it.

Sources: the Terraform resources in terraform/*.tf (one cluster per file, edges where one
resource refers to another), the local driver's containers in roles/provision/vars/main.yml,
the groups of docs/inventory-contract.md, and which roles the playbooks apply to which group.

    python scripts/architecture_figure.py            # writes docs/architecture.{dot,svg,png}
    python scripts/architecture_figure.py --check    # exit 1 when docs/architecture.dot is stale
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

import hcl2
import yaml

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
REFERENCE = re.compile(r"\b((?:google|random|tls|local|null)_[a-z0-9_]+)\.([a-zA-Z0-9_-]+)\b")
INTERPOLATION = re.compile(r"\$\{[^}]*\}")
TREE_LINE = re.compile(r"^[│ ]*[├└]── (\w+)\s+(\S+)(?:\s+\((.+)\))?")
PREFIX_VAR = re.compile(r"\{\{\s*mlops_name_prefix\s*\}\}")
FILE_TITLES = {
    "network.tf": "network",
    "iam.tf": "identity (IAM)",
    "compute.tf": "compute",
    "sql.tf": "Cloud SQL",
    "storage.tf": "storage",
    "registry.tf": "Artifact Registry",
    "secrets.tf": "Secret Manager",
    "main.tf": "project services",
}


def unquote(value: object) -> str:
    text = str(value)
    return text[1:-1] if len(text) >= 2 and text[0] == text[-1] == '"' else text


def quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def terraform_resources(tf_dir: Path) -> tuple[list[dict], dict]:
    """Every `resource` block as {file, type, name, label, instances, refs}, plus the root's locals."""
    resources, locals_ = [], {}
    for path in sorted(tf_dir.glob("*.tf")):
        with path.open() as handle:
            parsed = hcl2.load(handle)
        for block in parsed.get("locals", []):
            locals_.update({k: v for k, v in block.items() if k != "__is_block__"})
        for block in parsed.get("resource", []):
            for rtype, named in block.items():
                for rname, body in named.items():
                    resources.append(
                        {
                            "file": path.name,
                            "type": unquote(rtype),
                            "name": unquote(rname),
                            "body": body,
                        }
                    )
    known = {(r["type"], r["name"]) for r in resources}
    for resource in resources:
        body = resource.pop("body")
        text = repr({k: v for k, v in body.items() if k not in {"depends_on", "lifecycle"}})
        resource["refs"] = sorted(
            {m for m in REFERENCE.findall(text) if m in known} - {(resource["type"], resource["name"])}
        )
        literal = INTERPOLATION.sub("", unquote(body.get("name", ""))).strip("-_ ")
        resource["label"] = literal
        resource["instances"] = for_each_keys(body, locals_)
    return resources, locals_


def for_each_keys(body: dict, locals_: dict) -> list[str]:
    """The instance keys of a for_each over a literal map in locals (the VMs), or over a merge() of
    locals of which the literal maps give the keys (the nodes of the seed), else []."""
    match = re.fullmatch(r"\$\{local\.(\w+)\}", str(body.get("for_each", "")))
    if not match:
        return []
    return _local_keys(match.group(1), locals_)


def _local_keys(name: str, locals_: dict) -> list[str]:
    value = locals_.get(name)
    if isinstance(value, dict):
        return sorted(unquote(k) for k in value if k != "__is_block__")
    merged = re.fullmatch(r"\$\{merge\(([^()]*)\)\}", str(value))
    if not merged:
        return []
    names = re.findall(r"local\.(\w+)", merged.group(1))
    return sorted({key for other in names for key in _local_keys(other, locals_)})


def contract_groups(contract: Path) -> list[tuple[str, str, str]]:
    """(group, host, note) from the tree in docs/inventory-contract.md."""
    groups = []
    for line in contract.read_text().splitlines():
        match = TREE_LINE.match(line)
        if match:
            groups.append((match.group(1), match.group(2), match.group(3) or ""))
    if not groups:
        raise SystemExit(f"{contract}: no group tree found")
    return groups


def local_nodes(vars_file: Path) -> tuple[str, list[tuple[str, str]]]:
    """The local driver's Docker network and (container, group) pairs."""
    data = yaml.safe_load(vars_file.read_text())
    network = PREFIX_VAR.sub("", data["__provision_network"]).strip()
    nodes = [
        (PREFIX_VAR.sub("", n["name"]).strip(), n["node"]["group"])
        for n in data["__provision_local_seed_nodes"]
    ]
    # The serving nodes (mlops_serving_node_count of them) and the load balancer in front of them.
    nodes += [("serving-node", "serving"), ("serving-lb", "load balancer")]
    return network, nodes


def playbook_roles(playbook: Path, seen: set[Path] | None = None) -> list[tuple[str, str]]:
    """(hosts pattern, role) for every role a play applies, following import_playbook."""
    seen = seen or set()
    if playbook in seen or not playbook.is_file():
        return []
    seen.add(playbook)
    pairs = []
    for play in yaml.safe_load(playbook.read_text()) or []:
        if "import_playbook" in play:
            target = play["import_playbook"]
            name = target.removeprefix("englab.mlops.")
            path = playbook.parent / (name if name.endswith(".yml") else f"{name}.yml")
            pairs += playbook_roles(path, seen)
            continue
        hosts = str(play.get("hosts", ""))
        roles = [(hosts, r["role"] if isinstance(r, dict) else r) for r in play.get("roles", [])]
        for task in play.get("tasks", []) or []:
            for key in ("ansible.builtin.include_role", "ansible.builtin.import_role"):
                if key in task and "tasks_from" not in task[key]:
                    # A play over several groups includes each role on its own group's hosts.
                    group = re.search(r"inventory_hostname in groups\['(\w+)'\]", str(task.get("when", "")))
                    roles.append((group[1] if group else hosts, task[key]["name"]))
        for on, role in roles:
            pairs.append((on, role.removeprefix("englab.mlops.")))
    return pairs


def node_id(*parts: str) -> str:
    return "_".join(re.sub(r"[^a-zA-Z0-9]", "_", p) for p in parts)


def _gcp_cluster(resources: list[dict]) -> list[str]:
    out: list[str] = []
    # Google Cloud: one cluster per Terraform file.
    out.append("  subgraph cluster_gcp {")
    out.append(
        '    label="Google Cloud  (mlops_target: gcp)  —  terraform/"; style="rounded,filled"; fillcolor="#e8f0fe";'
    )
    by_file: dict[str, list[dict]] = {}
    for resource in resources:
        by_file.setdefault(resource["file"], []).append(resource)
    for file_name in sorted(by_file):
        title = FILE_TITLES.get(file_name, file_name.removesuffix(".tf"))
        out.append(f"    subgraph cluster_tf_{node_id(file_name)} {{")
        out.append(
            f'      label={quote(f"{title} ({file_name})")}; style="rounded,filled"; fillcolor="#ffffff";'
        )
        for resource in sorted(by_file[file_name], key=lambda r: (r["type"], r["name"])):
            lines = [resource["type"], resource["name"]]
            if resource["instances"]:
                lines.append(", ".join(resource["instances"]))
            elif resource["label"] and resource["label"] != resource["name"]:
                lines.append(resource["label"])
            label = "\\n".join(line.replace('"', "'") for line in lines)
            out.append(
                f'      {node_id("tf", resource["type"], resource["name"])} [label="{label}", fillcolor="#d2e3fc"];'
            )
        out.append("    }")
    if not resources:
        out.append('    tf_none [label="(no Terraform resources found)", shape=plaintext];')
    out.append("  }")
    out.append("")
    return out


def _local_cluster(network: str, containers: list[tuple[str, str]]) -> list[str]:
    out: list[str] = []
    # One machine: the local driver's containers.
    out.append("  subgraph cluster_local {")
    out.append(
        '    label="One machine with Docker  (mlops_target: local)  —  roles/provision"; style="rounded,filled"; fillcolor="#e6f4ea";'
    )
    out.append(
        f'    {node_id("local", "net", network)} [label={quote(f"Docker network {network}")}, shape=oval, fillcolor="#ceead6"];'
    )
    for name, _unused in containers:
        out.append(f'    {node_id("local", name)} [label={quote(f"container {name}")}, fillcolor="#ceead6"];')
    out.append("  }")
    out.append("")
    return out


def _contract_cluster(groups: list[tuple[str, str, str]]) -> list[str]:
    out: list[str] = []
    # The inventory contract both drivers produce.
    out.append("  subgraph cluster_contract {")
    out.append(
        '    label="Inventory contract: group mlops and its children  —  docs/inventory-contract.md"; '
        'style="rounded,filled"; fillcolor="#fef7e0";'
    )
    for group, host, note in groups:
        label = f"group {group}\\nhost {host}" + (f"\\n({note})" if note else "")
        out.append(f'    {node_id("grp", group)} [label="{label}", shape=folder, fillcolor="#fde293"];')
    out.append("  }")
    out.append("")
    return out


def _roles_cluster(plays: list[tuple[str, str]]) -> list[str]:
    out: list[str] = []
    # Roles the site playbook applies, per group.
    role_names = sorted({r for _unused, r in plays})
    if role_names:
        out.append("  subgraph cluster_roles {")
        out.append(
            '    label="Configuration  —  roles applied by playbooks/site.yml"; style="rounded,filled"; fillcolor="#f3e8fd";'
        )
        for role in role_names:
            out.append(
                f'    {node_id("role", role)} [label={quote(f"englab.mlops.{role}")}, shape=component, fillcolor="#e9d2fd"];'
            )
        out.append("  }")
        out.append("")
    return out


def _edges(
    resources: list[dict],
    groups: list[tuple[str, str, str]],
    network: str,
    containers: list[tuple[str, str]],
    plays: list[tuple[str, str]],
) -> list[str]:
    out: list[str] = []
    group_names = [g for g, _unused, _unused in groups]
    host_group = {host: group for group, host, _unused in groups}
    # Edges.
    anchor = next((r for r in resources if r["file"] == "network.tf"), resources[0] if resources else None)
    gcp_anchor = node_id("tf", anchor["type"], anchor["name"]) if anchor else "tf_none"
    out.append(
        f'  controller -> {gcp_anchor} [lhead=cluster_gcp, label="terraform apply\\n(englab.mlops.terraform)"];'
    )
    out.append(
        f'  controller -> {node_id("local", "net", network)} [lhead=cluster_local, label="community.docker"];'
    )
    for resource in sorted(resources, key=lambda r: (r["type"], r["name"])):
        for rtype, rname in resource["refs"]:
            # drawn from the resource used to the one using it, so the layout flows network -> compute
            out.append(
                f"  {node_id('tf', rtype, rname)} -> {node_id('tf', resource['type'], resource['name'])} [style=dashed, arrowsize=0.6];"
            )
    for resource in resources:
        for instance in resource["instances"]:
            if instance in host_group:
                out.append(
                    f"  {node_id('tf', resource['type'], resource['name'])} -> {node_id('grp', host_group[instance])} "
                    f'[color="#1a73e8", label={quote(instance)}];'
                )
    for name, group in containers:
        out.append(
            f'  {node_id("local", "net", network)} -> {node_id("local", name)} [dir=none, color="#34a853"];'
        )
        if group in group_names:
            out.append(f'  {node_id("local", name)} -> {node_id("grp", group)} [color="#34a853"];')
    for hosts, role in sorted(set(plays)):
        targets = [g for g in group_names if re.search(rf"\b{g}\b", hosts)]
        if not targets and re.search(r"\bmlops\b", hosts):
            # the whole group mlops: one edge from the contract cluster
            out.append(
                f'  {node_id("grp", group_names[0])} -> {node_id("role", role)} [ltail=cluster_contract, color="#9334e6", label="mlops"];'
            )
        for group in targets:
            out.append(f'  {node_id("grp", group)} -> {node_id("role", role)} [color="#9334e6"];')
    return out


def build_dot(root: Path = ROOT) -> str:
    resources, _unused = terraform_resources(root / "terraform")
    groups = contract_groups(root / "docs" / "inventory-contract.md")
    network, containers = local_nodes(root / "roles" / "provision" / "vars" / "main.yml")
    group_names = [g for g, _unused, _unused in groups]
    # roles applied to the platform's groups (the provision role runs on the controller: drawn as its edges)
    plays = [
        (h, r)
        for h, r in playbook_roles(root / "playbooks" / "site.yml")
        if (root / "roles" / r).is_dir() and re.search(rf"\b({'|'.join(['mlops', *group_names])})\b", h)
    ]

    out = [
        "// Generated by scripts/architecture_figure.py from terraform/*.tf, roles/provision/vars/main.yml,",
        "// docs/inventory-contract.md and playbooks/site.yml. Do not edit; re-run the script.",
        "digraph englab_mlops {",
        '  graph [rankdir=LR, compound=true, newrank=true, fontname="Helvetica", fontsize=12, nodesep=0.25, ranksep=0.9,',
        '         label="englab.mlops architecture (generated from the code)", labelloc=t, fontsize=16];',
        '  node [fontname="Helvetica", fontsize=10, shape=box, style="rounded,filled", fillcolor="#ffffff"];',
        '  edge [fontname="Helvetica", fontsize=9, color="#555555"];',
        "",
        '  controller [label="Ansible controller / AWX job\\n(execution environment)\\nansible-playbook englab.mlops.site", '
        'shape=box3d, fillcolor="#fff2cc"];',
        "",
    ]
    out += _gcp_cluster(resources)
    out += _local_cluster(network, containers)
    out += _contract_cluster(groups)
    out += _roles_cluster(plays)
    out += _edges(resources, groups, network, containers, plays)
    out.append("}")
    return "\n".join(out) + "\n"


def render(dot_file: Path) -> None:
    for fmt in ("svg", "png"):
        args = ["dot", f"-T{fmt}", str(dot_file), "-o", str(dot_file.with_suffix(f".{fmt}"))]
        if fmt == "png":
            args.insert(1, "-Gdpi=110")
        subprocess.run(args, check=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail when docs/architecture.dot is stale")
    parser.add_argument("--no-render", action="store_true", help="write the DOT only")
    args = parser.parse_args(argv)
    dot_file = DOCS / "architecture.dot"
    text = build_dot()
    if args.check:
        if not dot_file.is_file() or dot_file.read_text() != text:
            print(
                f"{dot_file.relative_to(ROOT)} is stale: run scripts/architecture_figure.py", file=sys.stderr
            )
            return 1
        return 0
    dot_file.write_text(text)
    if not args.no_render:
        render(dot_file)
    return 0


if __name__ == "__main__":
    sys.exit(main())
