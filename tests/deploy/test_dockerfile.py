"""Checks the Dockerfile without a Docker engine: parsed with dockerfile-parse, it must be a
multi-stage build of mandi-server that runs as non-root on a minimal base, with the
ports and paths the manifests expect."""

import os
import re
import sys
import unittest

from dockerfile_parse import DockerfileParser

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "scripts", "deploy"))

import mesh  # noqa: E402


def parse():
    parser = DockerfileParser(path=os.path.join(ROOT, "Dockerfile"))
    stages, current = [], None
    for instruction in parser.structure:
        if instruction["instruction"] == "FROM":
            current = {"from": instruction["value"], "steps": []}
            stages.append(current)
        elif current is not None:
            current["steps"].append((instruction["instruction"], instruction["value"]))
    return parser, stages


def values(stage, instruction):
    return [v for i, v in stage["steps"] if i == instruction]


class TheImage(unittest.TestCase):
    def setUp(self):
        self.parser, self.stages = parse()
        self.run = self.stages[-1]

    def test_is_a_multi_stage_build_of_mandi_server_in_release_mode(self):
        self.assertGreaterEqual(len(self.stages), 2)
        builders = [s for s in self.stages if any("cargo build" in v for v in values(s, "RUN"))]
        self.assertEqual(len(builders), 1, "one stage runs cargo build")
        (build,) = builders
        self.assertRegex(build["from"], r"^rust:1\.\d+[\w.-]* AS \w+$")
        # The toolchain is at least the workspace's rust-version.
        with open(os.path.join(ROOT, "Cargo.toml")) as f:
            need = re.search(r'rust-version = "1\.(\d+)"', f.read()).group(1)
        have = re.match(r"rust:1\.(\d+)", build["from"]).group(1)
        self.assertGreaterEqual(int(have), int(need))
        cargo = next(v for v in values(build, "RUN") if "cargo build" in v)
        self.assertIn("--release", cargo)
        self.assertIn("--locked", cargo)
        self.assertIn("-p mandi-server", cargo)

    def test_runs_as_non_root_on_a_minimal_base(self):
        self.assertRegex(self.run["from"], r"^(gcr\.io/distroless/\S+|debian:\S+-slim)( AS \w+)?$")
        self.assertNotIn("rust", self.run["from"])
        (user,) = values(self.run, "USER")
        uid = user.split(":")[0]
        self.assertTrue(uid.isdigit() and int(uid) != 0, f"USER {user} is not a numeric non-root id")
        # The pods run as the same id, so files in the image stay readable.
        with open(os.path.join(ROOT, "scripts", "deploy", "render.py")) as f:
            self.assertIn(f'"runAsUser": {uid}', f.read())
        self.assertEqual(values(self.run, "RUN"), [], "no shell steps in the runtime stage")

    def test_ships_only_the_binary_and_the_storefront(self):
        copies = values(self.run, "COPY")
        self.assertTrue(all(c.startswith("--from=") for c in copies), copies)
        self.assertTrue(any(c.endswith("/usr/local/bin/mandi-server") for c in copies), copies)
        web_root = next(
            v for n, s in mesh.SERVICES.items() for k, v in s["config"].items()
            if k == "MANDI_GATEWAY__WEB_ROOT"
        )
        self.assertTrue(any(c.endswith(f" {web_root}") for c in copies), copies)
        entrypoint = values(self.run, "ENTRYPOINT")
        self.assertEqual(entrypoint, ['["/usr/local/bin/mandi-server"]'])

    def test_exposes_the_ports_the_manifests_use(self):
        (expose,) = values(self.run, "EXPOSE")
        self.assertEqual(set(expose.split()), {str(mesh.GRPC_PORT), str(mesh.ADMIN_PORT), str(mesh.EDGE_PORT)})
        env = self.parser.envs
        self.assertEqual(env["MANDI_LISTEN"], f"0.0.0.0:{mesh.GRPC_PORT}")
        self.assertEqual(env["MANDI_ADMIN_LISTEN"], f"0.0.0.0:{mesh.ADMIN_PORT}")

    def test_the_build_context_leaves_out_caches_and_secrets(self):
        with open(os.path.join(ROOT, ".dockerignore")) as f:
            ignored = {line.strip() for line in f if line.strip() and not line.startswith("#")}
        for entry in ("target/", ".git/", "tools/", "web/node_modules/"):
            self.assertIn(entry, ignored)


if __name__ == "__main__":
    unittest.main()
