#!/usr/bin/env python3
"""Every environment variable is both read and documented (run by `just lint`).

Two directions:

  1. Every variable named in deploy/ (compose files, Kubernetes manifests and ConfigMaps, the
     Dockerfile) or in the documentation (README.md, docs/, each crate's and service's README)
     is read by some code: ours, or a program it belongs to (EXTERNAL below, with who reads it).
  2. Every variable our code reads is documented in README.md or a README/doc of its crate or
     service (anywhere in DOC_FILES).

What counts as "read by our code":
  - in Rust sources under src/ (crates, services, migrations, tests/system/src): every string
    literal that looks like a variable name (`"WEBHOOK_TIMEOUT_MS"`: upper case with an
    underscore), since settings are read through `common::config::Env` and a few helpers
    (`first_of`, `AWS_PASSTHROUGH`, `QueueName::concurrency_var`) that take the name as a
    literal; one-word names where they are passed to a reader (`env.parse("PORT", ..)`,
    `std::env::var("HOSTNAME")`); literals that are not variables are listed in NOT_VARIABLES;
  - names built at run time from a template (`format!("WORKER_{upper}_ATTEMPTS")`): every
    template must be listed in TEMPLATES with the values its placeholder takes, else this
    script fails asking for it;
  - in test code (tests/ directories), only names passed to `std::env::var`: what a test run
    reads (TEST_DATABASE_URL, FUZZ_SEED, ...), documented like any other;
  - shell scripts the recipes run (the justfile, scripts/*.sh): `${NAME:-...}` and `$NAME`.

Patterns in the docs: `WORKER_<QUEUE>_ATTEMPTS` stands for the six queues' variables,
`STORAGE_QUOTA_<PLAN>` for the three plans', `CACHE_<KIND>_TTL` for every key kind's
(PLACEHOLDERS below); a documented pattern documents every name it expands to, and a pattern
is "read" when every name it expands to is. Shorthand such as "`RATE_LIMIT_FREE` / `_PRO`" is
not understood: write names whole.

Prints each offending name with where it was seen and exits 1 if any. Standard library only.
"""

import re
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# A variable name: upper case words joined by underscores (at least two words).
NAME = r"[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+"
NAME_RE = re.compile(rf"\b{NAME}\b")
# The same, with placeholders: `WORKER_<QUEUE>_ATTEMPTS`, `CACHE_<KIND>_TTL`.
PATTERN_RE = re.compile(r"\b[A-Z][A-Z0-9]*(?:_(?:[A-Z0-9]+|<[A-Z]+>))*_<[A-Z]+>(?:_[A-Z0-9]+)*\b"
                        r"|\b[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*_<[A-Z]+>")

QUEUES = ["CAMPAIGN", "IMPORT", "REPORT", "NOTIFICATION", "WEBHOOK", "INBOUND"]
PLANS = ["FREE", "PRO", "ENTERPRISE"]


def cache_kinds():
    """`<KIND>` of `CACHE_<KIND>_TTL`: each key kind's TTL variable in crates/cache/src/key.rs."""
    text = (ROOT / "crates/cache/src/key.rs").read_text()
    return sorted(set(re.findall(r'"CACHE_([A-Z_]+)_TTL"', text)))


PLACEHOLDERS = {
    "QUEUE": QUEUES,
    "PLAN": PLANS,
    "KIND": cache_kinds(),
}

# Names built at run time: the template as written in the Rust literal -> its expansions.
TEMPLATES = {
    "WORKER_{upper}_ATTEMPTS": [f"WORKER_{q}_ATTEMPTS" for q in QUEUES],
    "WORKER_{upper}_BACKOFF_MS": [f"WORKER_{q}_BACKOFF_MS" for q in QUEUES],
    "WORKER_{}_RETRY_SCHEDULE": [f"WORKER_{q}_RETRY_SCHEDULE" for q in QUEUES],
    # crates/storage: S3 credentials, ours first, then the AWS tools' names.
    "{family}ACCESS_KEY_ID": ["STORAGE_S3_ACCESS_KEY_ID", "AWS_ACCESS_KEY_ID"],
    "{family}SECRET_ACCESS_KEY": ["STORAGE_S3_SECRET_ACCESS_KEY", "AWS_SECRET_ACCESS_KEY"],
    "{family}SESSION_TOKEN": ["STORAGE_S3_SESSION_TOKEN", "AWS_SESSION_TOKEN"],
}

# Upper-case literals in our code that are not environment variables.
NOT_VARIABLES = {
    "PRECONDITION_FAILED": "RabbitMQ's reply code, in an error message",
    "CARGO_PKG_VERSION": "set by Cargo at build time (env!)",
    "CARGO_MANIFEST_DIR": "set by Cargo at build time (env!)",
    "CARGO_TARGET_TMPDIR": "set by Cargo for integration tests (env!)",
    "OUT_DIR": "set by Cargo for build scripts (env!)",
    "CHANGE_ME": "a placeholder value in deploy/k8s/secret.example.yaml",
    "CHANGE_ME_TO_A_BASE64URL_P256_PRIVATE_KEY": "a placeholder value in secret.example.yaml",
    # deploy/README.md, "Adding a worker": the settings of a hypothetical `worker-foo`.
    "WORKER_FOO_CONCURRENCY": "the example worker of deploy/README.md",
    "WORKER_FOO_REPLICAS": "the example worker of deploy/README.md",
}

# Names in deploy/ or the docs that other programs read, not ours.
EXTERNAL = {
    "RABBITMQ_ERLANG_COOKIE": "the RabbitMQ image",
    "RABBITMQ_NODENAME": "the RabbitMQ image",
    "RABBITMQ_USE_LONGNAME": "the RabbitMQ image",
    "RABBITMQ_DEFAULT_USER": "the RabbitMQ image",
    "RABBITMQ_DEFAULT_PASS": "the RabbitMQ image",
    "POSTGRES_PASSWORD": "the PostgreSQL image",
    "POSTGRES_USER": "the PostgreSQL image",
    "POSTGRES_DB": "the PostgreSQL image",
    "GF_SECURITY_ADMIN_PASSWORD": "the Grafana image",
    "GF_SECURITY_ADMIN_USER": "the Grafana image",
    "GF_USERS_ALLOW_SIGN_UP": "the Grafana image",
    "GF_ANALYTICS_CHECK_FOR_UPDATES": "the Grafana image",
    "GF_ANALYTICS_REPORTING_ENABLED": "the Grafana image",
    "GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH": "the Grafana image",
    "OTEL_EXPORTER_OTLP_HEADERS": "the OpenTelemetry SDK (the standard OTEL_* variables)",
    "OTEL_BSP_SCHEDULE_DELAY": "the OpenTelemetry SDK",
    "CARGO_INCREMENTAL": "Cargo, in the Dockerfile's build stage",
    "CARGO_NET_RETRY": "Cargo, in the Dockerfile's build stage",
    "CARGO_TERM_COLOR": "Cargo, in the Dockerfile's build stage",
    "COMPOSE_PROFILES": "Docker Compose",
    "XDG_CACHE_HOME": "the XDG base directories (deploy/validate.sh's tool cache)",
}

DOC_FILES = sorted(
    [ROOT / "README.md"]
    + list((ROOT / "docs").glob("*.md"))
    + list(ROOT.glob("crates/*/README.md"))
    + list(ROOT.glob("services/*/README.md"))
    + [ROOT / "deploy/README.md", ROOT / "proto/README.md", ROOT / "migrations/README.md",
       ROOT / "tests/system/README.md"]
)
DEPLOY_FILES = sorted(
    p for p in (ROOT / "deploy").rglob("*")
    if p.is_file() and (p.suffix in {".yml", ".yaml", ".conf"} or p.name == "Dockerfile")
)
SHELL_FILES = [ROOT / "justfile", ROOT / "deploy/validate.sh", ROOT / ".ci/run"] + sorted(
    (ROOT / "scripts").glob("*.sh")
)

READER_CALL_RE = re.compile(
    r'(?:env::var|env::var_os|\.optional|\.string|\.parse|\.parse_in|\.duration|\.url'
    r'|listen_addr\(\s*\w+\s*,)\(?\s*"([A-Z][A-Z0-9_]*)"'
)
LITERAL_RE = re.compile(rf'"({NAME})"')
TEMPLATE_RE = re.compile(r'"((?:[A-Z0-9_]*\{[a-z_]*\})+[A-Z0-9_]*)"')
ENV_MACRO_RE = re.compile(r'env!\(\s*"([A-Z0-9_]+)"')
# In shell: a setting the caller may override, `${NAME:-default}` (not the scripts' own locals).
SHELL_VAR_RE = re.compile(rf"\$\{{({NAME}|HOST|PORT):?-")
# Names the deploy files read themselves: Compose interpolation `${NAME:-..}`, Kubernetes'
# `$(NAME)` references between a container's variables, the Dockerfile's build arguments.
DEPLOY_READ_RE = re.compile(rf"\$\{{({NAME})|\$\(({NAME})\)|^ARG ({NAME})", re.M)
# A variable set for a child process (`Command::env("BASE_URL", ..)`): not read by this code.
CHILD_ENV_RE = re.compile(r'\.env\(\s*"[A-Z][A-Z0-9_]*"')
CONST_RE = re.compile(rf"\b(?:const|static)\s+({NAME})\b")


def rel(path):
    return path.relative_to(ROOT).as_posix()


def rust_files():
    for top in ("crates", "services", "migrations", "tests"):
        for path in (ROOT / top).rglob("*.rs"):
            if "target" not in path.parts:
                yield path


def is_test_code(path):
    return "tests" in path.relative_to(ROOT).parts[2:] or path.parts[-2] == "tests"


# A `#[cfg(test)]` module as rustfmt writes it: up to the first line that is only `}`.
UNIT_TESTS_RE = re.compile(r"^#\[cfg\(test\)\]\n.*?^\}$", re.M | re.S)


def without_unit_tests(text):
    """A source file without its `#[cfg(test)]` modules: the names unit tests make up
    (`Env::from_pairs([("AFTER", "2w")])`) are read by nothing."""
    return UNIT_TESTS_RE.sub("", text)


def names_read_by_code(problems):
    """Every name our code reads -> where."""
    read = defaultdict(set)
    for path in rust_files():
        text = CHILD_ENV_RE.sub("", without_unit_tests(path.read_text()))
        for name in READER_CALL_RE.findall(text):
            read[name].add(rel(path))
        if is_test_code(path) and not rel(path).startswith("tests/system/src"):
            continue
        cargo_set = set(ENV_MACRO_RE.findall(text))
        for name in LITERAL_RE.findall(text):
            if name not in NOT_VARIABLES and name not in cargo_set:
                read[name].add(rel(path))
        for template in TEMPLATE_RE.findall(text):
            if not (re.search(r"[A-Z]{2}", template) and "_" in template):
                continue  # `"{}"`, `"{body}"`: not a name
            if template not in TEMPLATES:
                problems.append(
                    f"{rel(path)}: a variable name built from the template \"{template}\": "
                    "list its expansions in TEMPLATES (scripts/check-env.py)"
                )
                continue
            for name in TEMPLATES[template]:
                read[name].add(rel(path))
    for path in SHELL_FILES:
        if path.exists():
            for name in SHELL_VAR_RE.findall(path.read_text()):
                read[name].add(rel(path))
    return read


def names_read_by_deploy():
    """Names deploy/ itself reads (Compose, Kubernetes, docker build) -> where."""
    read = defaultdict(set)
    for path in DEPLOY_FILES:
        for groups in DEPLOY_READ_RE.findall(path.read_text()):
            for name in filter(None, groups):
                read[name].add(rel(path))
    return read


def code_constants():
    """Rust constants (`PART_SIZE`, `AWS_PASSTHROUGH`): named in docs, but not variables."""
    return {name for path in rust_files() for name in CONST_RE.findall(path.read_text())}


def expand(pattern):
    """`WORKER_<QUEUE>_ATTEMPTS` -> the six names; a plain name -> itself."""
    match = re.search(r"<([A-Z]+)>", pattern)
    if not match:
        return [pattern]
    values = PLACEHOLDERS.get(match.group(1))
    if values is None:
        return None
    out = []
    for value in values:
        out.extend(expand(pattern[: match.start()] + value + pattern[match.end():]) or [])
    return out


def named_in(paths, problems):
    """Every name in `paths` (patterns expanded) -> where; unknown placeholders are problems."""
    named = defaultdict(set)
    for path in paths:
        if not path.exists():
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            where = f"{rel(path)}:{number}"
            for pattern in PATTERN_RE.findall(line):
                names = expand(pattern)
                if names is None:
                    problems.append(f"{where}: `{pattern}`: unknown placeholder "
                                    f"(known: {', '.join(sorted(PLACEHOLDERS))})")
                    continue
                for name in names:
                    named[name].add(where)
            for name in NAME_RE.findall(re.sub(PATTERN_RE, " ", line)):
                named[name].add(where)
    return named


def main():
    problems = []
    read = names_read_by_code(problems)
    read_by_deploy = names_read_by_deploy()
    constants = code_constants()
    documented = named_in(DOC_FILES, problems)
    deployed = named_in(DEPLOY_FILES, problems)
    doc_text = "\n".join(p.read_text() for p in DOC_FILES if p.exists())

    def known(name):
        return (name in read or name in read_by_deploy or name in EXTERNAL
                or name in NOT_VARIABLES or name in constants)

    def is_documented(name):
        # One-word names (`HOST`, `PORT`) only count written as code: `PORT`.
        return name in documented or f"`{name}`" in doc_text

    for source, names in (("deploy/", deployed), ("the docs", documented)):
        for name in sorted(names):
            if not known(name):
                places = ", ".join(sorted(names[name])[:3])
                problems.append(f"{name}: named in {source} ({places}) but read by no code")
    for name in sorted(read):
        if name not in EXTERNAL and not is_documented(name):
            places = ", ".join(sorted(read[name])[:3])
            problems.append(f"{name}: read by {places} but documented nowhere "
                            "(README.md's configuration, or its crate's or service's README)")

    everywhere = "\n".join(p.read_text() for p in DOC_FILES + DEPLOY_FILES + SHELL_FILES
                            if p.exists())
    for name in sorted(EXTERNAL):
        if name not in everywhere:
            problems.append(f"{name}: listed in EXTERNAL (scripts/check-env.py) but named "
                            "nowhere: drop it from the list")

    if problems:
        print(f"environment variables: {len(problems)} problem(s):", file=sys.stderr)
        for line in problems:
            print(f"  {line}", file=sys.stderr)
        print("How names are found: scripts/check-env.py's docstring.", file=sys.stderr)
        return 1
    print(f"environment variables: {len(read)} read by the code, all documented; "
          f"{len(documented)} in the docs and {len(deployed)} in deploy/, all read")
    return 0


if __name__ == "__main__":
    sys.exit(main())
