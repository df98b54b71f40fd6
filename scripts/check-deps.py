#!/usr/bin/env python3
"""The workspace's dependency rules, checked over `cargo metadata` (run by `just lint`).

The layers (README.md, "The structure"): common -> db -> app -> worker -> services, with the
gateway a service; tests/system on top. The rules, for every kind of dependency (normal, dev,
build) between workspace members:

  1. a service (services/*) never depends on another service;
  2. a crate (crates/*, migrations/, tools/*) never depends on a service;
  3. `db` depends on no service, nor on `worker`, `app` (the use cases above it),
     `queue` or `outbox`; `common` on no member at all; each crate's other exclusions are in
     FORBIDDEN (and its README's "Owns");
  4. only the worker binaries (services/worker-*) and tests/system depend on `worker`, the
     runtime they share (the gateway enqueues jobs, it never runs them);
  5. tests/system may depend on anything.

Prints each violation as `<package> (<dir>) -> <dependency>: <rule>` and exits 1 if any.
Python's standard library only; `cargo metadata --no-deps` reads no registry, so this takes
well under a second.
"""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# What each crate must never know, beyond the rules every crate follows (each crate's README,
# "Owns"): db sits below the use cases, queues and the worker runtime; the infrastructure crates take
# what they need from the database as arguments instead of depending on `db`.
FORBIDDEN = {
    "db": {"worker", "app", "queue", "outbox"},
    "app": {"worker", "queue", "outbox", "cache", "egress", "wuzapi", "storage"},
    "cache": {"db"},
    "egress": {"db"},
    "queue": {"db"},
    "ratelimit": {"db", "cache"},
    "storage": {"db"},
    "stripe": {"db"},
    "telemetry": {"db"},
    "testkit": {"db"},
    "wuzapi": {"db"},
    "migration": {"db"},
}
# The bottom layer: depends on no workspace member at all.
FOUNDATION = "common"


def workspace_packages():
    """Each member's name -> (its directory relative to the root, its workspace dependencies)."""
    out = subprocess.run(
        ["cargo", "metadata", "--format-version", "1", "--no-deps", "--offline"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    metadata = json.loads(out)
    root = Path(metadata["workspace_root"])
    packages = {}
    for package in metadata["packages"]:
        directory = Path(package["manifest_path"]).parent.relative_to(root).as_posix()
        packages[package["name"]] = (directory, package["dependencies"])
    return packages


def layer(directory):
    """`service`, `crate` or `tests`, from where a member lives."""
    if directory.startswith("services/"):
        return "service"
    if directory.startswith("tests/"):
        return "tests"
    return "crate"


def violations(packages):
    found = []
    for name, (directory, dependencies) in sorted(packages.items()):
        kind = layer(directory)
        if kind == "tests":
            continue
        for dependency in dependencies:
            target = dependency["name"]
            if target == name or target not in packages:
                continue  # itself (e.g. a feature for its own tests), or not a member
            target_kind = layer(packages[target][0])
            how = dependency.get("kind") or "normal"
            edge = f"{name} ({directory}) -> {target} [{how}]"
            if kind == "service" and target_kind == "service":
                found.append(f"{edge}: a service never depends on another service")
            if kind == "crate" and target_kind == "service":
                found.append(f"{edge}: a crate never depends on a service")
            if target in FORBIDDEN.get(name, ()):
                found.append(f"{edge}: {name} is below {target} and must not know it "
                             f"(its README, 'Owns')")
            if name == FOUNDATION:
                found.append(f"{edge}: {FOUNDATION} is the bottom layer and depends on no member")
            if target == "worker" and not (
                kind == "service" and directory.startswith("services/worker-")
            ):
                found.append(
                    f"{edge}: only the worker binaries (services/worker-*) and tests/system "
                    "use the worker runtime"
                )
    return found


def main():
    packages = workspace_packages()
    found = violations(packages)
    if found:
        print(f"dependency rules: {len(found)} violation(s):", file=sys.stderr)
        for line in found:
            print(f"  {line}", file=sys.stderr)
        print("The rules: scripts/check-deps.py's docstring; README.md, 'The structure'.",
              file=sys.stderr)
        return 1
    print(f"dependency rules: {len(packages)} workspace members, no violation")
    return 0


if __name__ == "__main__":
    sys.exit(main())
