"""Fetch the cdktf packages, derive schemas, and lay out a provider mirror Terraform can install."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from .schema_gen import RANDOM_EPHEMERAL, build_schema

STANDIN_ROOT = Path(__file__).resolve().parent.parent  # tests/terraform, the import root of ``standin``


@dataclass(frozen=True)
class Provider:
    """One provider the stand-in impersonates, and the npm package its schema comes from."""

    name: str
    version: str
    npm_package: str
    npm_version: str
    ephemeral: bool = False

    @property
    def tarball(self) -> str:
        return f"{self.npm_package.lstrip('@').replace('/', '-')}-{self.npm_version}.tgz"


PROVIDERS = (
    Provider("google", "6.50.0", "@cdktf/provider-google", "16.12.1"),
    # @cdktf/provider-random 12.0.1 was generated from hashicorp/random 3.7.2.
    Provider("random", "3.7.2", "@cdktf/provider-random", "12.0.1", ephemeral=True),
    # @cdktf/provider-time 11.0.1 was generated from hashicorp/time 0.13.1 (its docs links say so).
    Provider("time", "0.13.1", "@cdktf/provider-time", "11.0.1"),
)


def fetch(provider: Provider, cache: Path) -> Path:
    """``npm pack`` the package once into the cache (the only network access of the suite)."""
    cache.mkdir(parents=True, exist_ok=True)
    target = cache / provider.tarball
    if not target.exists():
        subprocess.run(
            ["npm", "pack", "--silent", f"{provider.npm_package}@{provider.npm_version}"],
            cwd=cache,
            check=True,
            capture_output=True,
        )
    return target


def schema_file(provider: Provider, cache: Path) -> Path:
    """The derived schema JSON, rebuilt only when the generator or the package is newer."""
    out = cache / f"{provider.name}-{provider.version}.schema.json"
    tarball = fetch(provider, cache)
    generator = Path(__file__).with_name("schema_gen.py")
    newest_input = max(tarball.stat().st_mtime, generator.stat().st_mtime)
    if not out.exists() or out.stat().st_mtime < newest_input:
        workdir = cache / f"{provider.name}-unpacked"
        shutil.rmtree(workdir, ignore_errors=True)
        schema = build_schema(tarball, workdir, RANDOM_EPHEMERAL if provider.ephemeral else None)
        tmp = out.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(schema, sort_keys=True))
        tmp.replace(out)
        shutil.rmtree(workdir, ignore_errors=True)
    return out


def write_mirror(mirror: Path, schemas: dict[Provider, Path]) -> None:
    """Unpacked filesystem-mirror layout: HOST/NAMESPACE/TYPE/VERSION/OS_ARCH/terraform-provider-TYPE_vX."""
    for provider, schema in schemas.items():
        target = (
            mirror / "registry.terraform.io" / "hashicorp" / provider.name / provider.version / "linux_amd64"
        )
        target.mkdir(parents=True, exist_ok=True)
        exe = target / f"terraform-provider-{provider.name}_v{provider.version}"
        exe.write_text(
            "#!/bin/sh\n"
            f"PYTHONPATH='{STANDIN_ROOT}' exec '{sys.executable}' -m standin.server --schema '{schema}'\n"
        )
        exe.chmod(0o755)


def write_cli_config(path: Path, mirror: Path, plugin_cache: Path | None = None) -> Path:
    """A CLI config that installs hashicorp/* from the mirror only and never from the registry."""
    lines = [
        "provider_installation {",
        "  filesystem_mirror {",
        f'    path    = "{mirror}"',
        '    include = ["registry.terraform.io/hashicorp/*"]',
        "  }",
        "  direct {",
        '    exclude = ["registry.terraform.io/hashicorp/*"]',
        "  }",
        "}",
    ]
    if plugin_cache is not None:
        lines.append(f'plugin_cache_dir = "{plugin_cache}"')
    path.write_text("\n".join(lines) + "\n")
    return path
