#!/usr/bin/env python3
"""Schema-validates every object of the built overlays.

    validate.py <node_modules> <overlay.yaml>...

Core kinds go through kubernetes-validate (the Kubernetes 1.35 OpenAPI schemas, strict:
unknown fields are errors); Istio kinds through istio-validate.mjs (Istio's CRD schemas,
also strict). Any other kind is an error: nothing is left unchecked.
"""

import json
import os
import subprocess
import sys

import kubernetes_validate
import yaml

K8S_VERSION = "1.35.0"
ISTIO_GROUPS = ("networking.istio.io/", "security.istio.io/", "telemetry.istio.io/")
HERE = os.path.dirname(os.path.abspath(__file__))


def main(argv):
    node_modules, files = argv[0], argv[1:]
    problems = 0
    for path in files:
        file = os.path.relpath(path)
        with open(path) as f:
            docs = [d for d in yaml.safe_load_all(f) if d]
        core = [d for d in docs if not d["apiVersion"].startswith(ISTIO_GROUPS)]
        istio = [d for d in docs if d["apiVersion"].startswith(ISTIO_GROUPS)]
        for doc in core:
            label = f"{doc['kind']}/{doc['metadata'].get('namespace', '')}/{doc['metadata']['name']}"
            try:
                kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
            except kubernetes_validate.ValidationError as e:
                print(f"{file}: {label}: {'.'.join(map(str, e.path))}: {e.message}")
                problems += 1
            except (kubernetes_validate.SchemaNotFoundError, kubernetes_validate.InvalidSchemaError) as e:
                print(f"{file}: {label}: no schema: {e}")
                problems += 1
        result = subprocess.run(
            ["node", os.path.join(HERE, "istio-validate.mjs"), node_modules],
            input=json.dumps(istio),
            capture_output=True,
            text=True,
        )
        sys.stdout.write("".join(f"{file}: {line}\n" for line in result.stdout.splitlines()))
        sys.stderr.write(result.stderr)
        if result.returncode != 0:
            problems += 1
        print(f"{file}: {len(core)} Kubernetes objects checked against the {K8S_VERSION} schemas")
    if problems:
        print(f"validate: {problems} problems", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
