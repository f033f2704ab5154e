"""Cross-checks the built k8s overlays and Istio policy against the code.

Run by scripts/validate-deploy.sh (`make lint`), which builds the overlays with kustomize
into $MANDI_DEPLOY_BUILD/{dev,prod}.yaml first. Everything compared here is read from the
source at test time: services/, proto/, the server's defaults in crates/runtime, the
targets in crates/server, the variables each service reads, identity's JWKS route and the
token issuer and audience.
"""

import json
import os
import re
import subprocess
import sys
import unittest

import kubernetes_validate
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("MANDI_DEPLOY_BUILD", "")
NODE_MODULES = os.path.join(ROOT, "tools", "deploy", "node_modules")
OVERLAYS = ("dev", "prod")
EDGE = "gateway"  # no proto package: the public edge, behind the Istio ingress Gateway


def read(rel):
    with open(os.path.join(ROOT, rel)) as f:
        return f.read()


def rust_sources():
    for top in ("crates", "services", "sdk/rust"):
        for dirpath, _, files in os.walk(os.path.join(ROOT, top)):
            for file in files:
                if file.endswith(".rs"):
                    with open(os.path.join(dirpath, file)) as f:
                        yield os.path.relpath(os.path.join(dirpath, file), ROOT), f.read()


def service_dirs():
    base = os.path.join(ROOT, "services")
    return sorted(
        d for d in os.listdir(base) if os.path.isfile(os.path.join(base, d, "Cargo.toml"))
    )


def proto_methods():
    """{"mandi.x.v1.XService": {"Method", ...}} from every .proto under proto/."""
    services = {}
    for dirpath, _, files in os.walk(os.path.join(ROOT, "proto")):
        for file in files:
            if not file.endswith(".proto"):
                continue
            with open(os.path.join(dirpath, file)) as f:
                text = re.sub(r"//[^\n]*", "", f.read())
            package = re.search(r"^\s*package\s+([\w.]+)\s*;", text, re.M)
            for name, body in re.findall(r"\bservice\s+(\w+)\s*\{(.*?)\n\}", text, re.S):
                services[f"{package.group(1)}.{name}"] = set(re.findall(r"\brpc\s+(\w+)\s*\(", body))
    return services


def wired(svc):
    """Whether mandi-server links the service's crate (one still being written is not)."""
    return re.search(rf"^mandi-{svc}\b", read("crates/server/Cargo.toml"), re.M) is not None


def default_port(rel, var):
    text = read(rel)
    m = re.search(rf'"{var}",?\s*SocketAddr::from\(\(\[[\d, ]+\],\s*(\d+)\)\)', text, re.S)
    assert m, f"no default for {var} in {rel}"
    return int(m.group(1))


def server_defaults():
    """Listen ports, request timeout and drain delay defaults of ServerConfig::from_env."""
    text = read("crates/runtime/src/server.rs")

    def port(var):
        m = re.search(rf'"{var}",?\s*SocketAddr::from\(\(\[[\d, ]+\],\s*(\d+)\)\)', text, re.S)
        assert m, f"no default for {var} in crates/runtime/src/server.rs"
        return int(m.group(1))

    timeout = re.search(
        r'"MANDI_SERVER__REQUEST_TIMEOUT",\s*Duration::from_secs\((\d+)\)', text, re.S
    )
    assert timeout, "no default request timeout in crates/runtime/src/server.rs"
    return {
        "grpc": port("MANDI_LISTEN"),
        "admin": port("MANDI_ADMIN_LISTEN"),
        "request_timeout": int(timeout.group(1)),
    }


def duration_seconds(text):
    m = re.fullmatch(r"(\d+)(ms|s|m)", text)
    assert m, f"not a duration: {text}"
    value, unit = int(m.group(1)), m.group(2)
    return {"ms": value / 1000, "s": value, "m": value * 60}[unit]


def load_build(overlay):
    assert BUILD, "MANDI_DEPLOY_BUILD is not set: run scripts/validate-deploy.sh"
    path = os.path.join(BUILD, f"{overlay}.yaml")
    with open(path) as f:
        return [d for d in yaml.safe_load_all(f) if d]


def index(docs):
    return {(d["kind"], d["metadata"]["name"]): d for d in docs}


class Build:
    """One overlay's objects with lookups."""

    def __init__(self, overlay):
        self.overlay = overlay
        self.docs = load_build(overlay)
        self.by = index(self.docs)

    def kind(self, kind):
        return [d for d in self.docs if d["kind"] == kind]

    def get(self, kind, name):
        found = self.by.get((kind, name))
        assert found is not None, f"{self.overlay}: no {kind} {name}"
        return found

    def container(self, name):
        return self.get("Deployment", name)["spec"]["template"]["spec"]["containers"][0]

    def env_names(self, name):
        """Every variable a service's container gets, and which of them are optional."""
        c = self.container(name)
        names, optional = set(), set()
        for source in c.get("envFrom", []):
            cm = self.get("ConfigMap", source["configMapRef"]["name"])
            names.update(cm["data"])
        for e in c.get("env", []):
            names.add(e["name"])
            if e.get("valueFrom", {}).get("secretKeyRef", {}).get("optional"):
                optional.add(e["name"])
        return names, optional


BUILDS = {}


def build(overlay):
    if overlay not in BUILDS:
        BUILDS[overlay] = Build(overlay)
    return BUILDS[overlay]


class EveryServiceIsDeployed(unittest.TestCase):
    def test_every_service_directory_has_its_objects_in_both_overlays(self):
        services = service_dirs()
        self.assertIn("identity", services)
        for overlay in OVERLAYS:
            b = build(overlay)
            policies = {p["metadata"]["name"] for p in b.kind("AuthorizationPolicy")}
            for svc in services:
                with self.subTest(overlay=overlay, service=svc):
                    for kind in ("Deployment", "Service", "ServiceAccount", "PodDisruptionBudget"):
                        b.get(kind, svc)
                    self.assertIn(svc, policies, "no AuthorizationPolicy")
                    b.get("DestinationRule", svc)
                    b.get("VirtualService", svc)
                    spec = b.get("Deployment", svc)["spec"]["template"]["spec"]
                    self.assertEqual(spec["serviceAccountName"], svc)

    def test_every_deployed_service_exists_as_a_proto_service_or_is_the_edge(self):
        protos = proto_methods()
        for overlay in OVERLAYS:
            for d in build(overlay).kind("Deployment"):
                name = d["metadata"]["name"]
                with self.subTest(overlay=overlay, deployment=name):
                    if name == EDGE:
                        continue
                    packages = {p.split(".")[1] for p in protos}
                    self.assertIn(name, packages, "no mandi.<svc>.v1 package in proto/")

    def test_each_deployment_runs_its_own_known_target(self):
        modules = read("crates/server/src/modules.rs")
        targets = set(re.findall(r'Target::\w+\s*=>\s*"([a-z]+)"', modules))
        self.assertIn("identity", targets)
        for overlay in OVERLAYS:
            for svc in service_dirs():
                with self.subTest(overlay=overlay, service=svc):
                    c = build(overlay).container(svc)
                    self.assertEqual(c["args"], [f"--target={svc}"])
                    # Once mandi-server links a service's crate, it must run it as a target
                    # of that name (a crate still being written is deployed ahead of it).
                    if wired(svc):
                        self.assertIn(svc, targets, "mandi-server has no such --target")


class PortsAndProbesMatchTheServer(unittest.TestCase):
    def test_ports_probes_and_grace_period_follow_the_server_defaults(self):
        defaults = server_defaults()
        protos = proto_methods()
        for overlay in OVERLAYS:
            b = build(overlay)
            for d in b.kind("Deployment"):
                name = d["metadata"]["name"]
                with self.subTest(overlay=overlay, deployment=name):
                    pod = d["spec"]["template"]["spec"]
                    c = pod["containers"][0]
                    ports = {p["name"]: p["containerPort"] for p in c["ports"]}
                    expected = {"grpc": defaults["grpc"], "http-admin": defaults["admin"]}
                    if name == EDGE:
                        # The public listener of services/gateway, on its default port.
                        lib = "services/gateway/src/lib.rs"
                        route = b.get("VirtualService", "mandi-edge")["spec"]["http"][0]["route"]
                        edge = route[0]["destination"]["port"]["number"]
                        if os.path.exists(os.path.join(ROOT, lib)):
                            self.assertEqual(edge, default_port(lib, "MANDI_GATEWAY__LISTEN"))
                        expected["http-edge"] = edge
                        config = b.get("ConfigMap", f"{name}-config")["data"]
                        self.assertEqual(config["MANDI_GATEWAY__LISTEN"], f"0.0.0.0:{edge}")
                    self.assertEqual(ports, expected)
                    common = b.get("ConfigMap", "mandi-common")["data"]
                    self.assertEqual(common["MANDI_LISTEN"], f"0.0.0.0:{defaults['grpc']}")
                    self.assertEqual(common["MANDI_ADMIN_LISTEN"], f"0.0.0.0:{defaults['admin']}")
                    health = "" if name == EDGE else next(
                        s for s in protos if s.split(".")[1] == name
                    )
                    for probe in ("startupProbe", "readinessProbe"):
                        self.assertEqual(c[probe]["grpc"], {"port": defaults["grpc"], "service": health})
                    self.assertEqual(c["livenessProbe"]["grpc"], {"port": defaults["grpc"], "service": ""})
                    # SIGTERM: NOT_SERVING, drain delay, then in-flight calls finish within
                    # the request timeout; the kubelet must wait for both.
                    timeout = duration_seconds(
                        common.get("MANDI_SERVER__REQUEST_TIMEOUT", f"{defaults['request_timeout']}s")
                    )
                    drain = duration_seconds(common.get("MANDI_SERVER__DRAIN_DELAY", "0s"))
                    self.assertGreater(drain, 0, "no drain delay: endpoints would lag the shutdown")
                    self.assertGreaterEqual(pod["terminationGracePeriodSeconds"], drain + timeout)
                    # Readiness must notice NOT_SERVING within the drain delay.
                    r = c["readinessProbe"]
                    self.assertLessEqual(r["periodSeconds"], drain)

    def test_services_name_their_ports_for_the_mesh(self):
        defaults = server_defaults()
        for overlay in OVERLAYS:
            for svc in service_dirs():
                with self.subTest(overlay=overlay, service=svc):
                    ports = build(overlay).get("Service", svc)["spec"]["ports"]
                    grpc = next(p for p in ports if p["name"] == "grpc")
                    self.assertEqual((grpc["port"], grpc["appProtocol"]), (defaults["grpc"], "grpc"))
                    admin = next(p for p in ports if p["name"] == "http-admin")
                    self.assertEqual(admin["port"], defaults["admin"])

    def test_memory_is_sized_above_the_measured_idle_rss(self):
        sys.path.insert(0, os.path.join(ROOT, "scripts", "deploy"))
        import mesh

        def mib(q):
            m = re.fullmatch(r"(\d+)Mi", q)
            self.assertIsNotNone(m, q)
            return int(m.group(1))

        for overlay in OVERLAYS:
            for svc in service_dirs():
                with self.subTest(overlay=overlay, service=svc):
                    res = build(overlay).container(svc)["resources"]
                    idle = mesh.MEASURED_IDLE_RSS_MIB.get(svc, mesh.MEASURED_IDLE_RSS_MIB["all"])
                    self.assertGreaterEqual(mib(res["requests"]["memory"]), idle * 1.2)
                    self.assertGreaterEqual(mib(res["limits"]["memory"]), idle * 4)

    def test_pods_run_locked_down(self):
        for overlay in OVERLAYS:
            for d in build(overlay).kind("Deployment"):
                with self.subTest(overlay=overlay, deployment=d["metadata"]["name"]):
                    c = d["spec"]["template"]["spec"]["containers"][0]
                    sc = c["securityContext"]
                    self.assertTrue(sc["runAsNonRoot"])
                    self.assertTrue(sc["readOnlyRootFilesystem"])
                    self.assertFalse(sc["allowPrivilegeEscalation"])
                    self.assertEqual(sc["capabilities"]["drop"], ["ALL"])
                    res = c["resources"]
                    self.assertIn("memory", res["requests"])
                    self.assertIn("memory", res["limits"])


def wired_or_configured(svc):
    """A service whose configuration exists to compare with: linked by the server, or with
    a lib.rs that reads it."""
    return wired(svc) or os.path.exists(os.path.join(ROOT, "services", svc, "src", "lib.rs"))


class ConfigurationMatchesTheCode(unittest.TestCase):
    def test_every_variable_given_is_one_the_code_reads(self):
        literals, patterns = set(), []
        for _, text in rust_sources():
            literals.update(re.findall(r'"(MANDI_[A-Z0-9_]+)"', text))
            for fmt in re.findall(r'format!\(\s*"(MANDI_[A-Z0-9_]*\{\}[A-Z0-9_]*)"', text):
                patterns.append(re.compile(re.escape(fmt).replace(r"\{\}", "[A-Z]+") + "$"))
        for overlay in OVERLAYS:
            b = build(overlay)
            for svc in filter(wired_or_configured, service_dirs()):
                names, _ = b.env_names(svc)
                for var in sorted(names):
                    with self.subTest(overlay=overlay, service=svc, var=var):
                        self.assertTrue(
                            var in literals or any(p.match(var) for p in patterns),
                            f"{var} is read nowhere in the Rust source",
                        )

    def test_every_required_variable_is_given(self):
        for svc in service_dirs():
            lib = os.path.join("services", svc, "src", "lib.rs")
            if not os.path.exists(os.path.join(ROOT, lib)):
                continue
            required = set(re.findall(r'require(?:::<\w+>)?\(\s*"(MANDI_[A-Z0-9_]+)"', read(lib)))
            for overlay in OVERLAYS:
                names, optional = build(overlay).env_names(svc)
                for var in sorted(required):
                    with self.subTest(overlay=overlay, service=svc, var=var):
                        self.assertIn(var, names)
                        self.assertNotIn(var, optional)

    def test_every_peer_a_service_needs_has_its_endpoint(self):
        # Alone in a pod, a service must be told where each peer it calls lives, or the
        # server exits with "must be set" before it binds a port (crates/server/src).
        modules = read("crates/server/src/modules.rs")
        needed = {svc: set(re.findall(rf'"(MANDI_{svc.upper()}__\w+_ENDPOINT)"', modules)) for svc in service_dirs()}
        peers = re.search(r"pub const PEERS: \[&str; \d+\] = \[(.*?)\];", read("services/checkout/src/lib.rs"), re.S)
        needed["checkout"] |= {f"MANDI_CHECKOUT__{p.upper()}_ENDPOINT" for p in re.findall(r'"(\w+)"', peers.group(1))}
        self.assertTrue(needed["cart"] and needed["checkout"] and needed["inventory"])
        for overlay in OVERLAYS:
            b = build(overlay)
            for svc in service_dirs():
                names, _ = b.env_names(svc)
                for var in sorted(needed[svc] | ({"MANDI_AUTH__IDENTITY_ENDPOINT"} if svc != "identity" else set())):
                    with self.subTest(overlay=overlay, service=svc, var=var):
                        self.assertIn(var, names)
                for var in sorted(names):
                    # The trace collector is not a peer: it lives in k8s/observability.
                    if var == "MANDI_OTLP__ENDPOINT":
                        continue
                    if var.endswith("_ENDPOINT") or "__UPSTREAM__" in var:
                        with self.subTest(overlay=overlay, service=svc, var=var):
                            value = b.get("ConfigMap", f"{svc}-config")["data"].get(var) or b.get("ConfigMap", "mandi-common")["data"][var]
                            m = re.fullmatch(r"http://(\w+)\.mandi\.svc\.cluster\.local:(\d+)", value)
                            self.assertIsNotNone(m, value)
                            self.assertIn(m.group(1), service_dirs())
                            self.assertEqual(int(m.group(2)), server_defaults()["grpc"])

    def test_the_gateway_has_an_upstream_for_every_service(self):
        # Without one (or a default upstream) the gateway refuses to start in real mode.
        services = {s.split(".")[1] for s in proto_methods() if s.startswith("mandi.")}
        for overlay in OVERLAYS:
            names, _ = build(overlay).env_names(EDGE)
            for svc in sorted(services):
                with self.subTest(overlay=overlay, service=svc):
                    self.assertIn(f"MANDI_GATEWAY__UPSTREAM__{svc.upper()}", names)

    def test_no_secret_value_is_committed(self):
        for overlay in OVERLAYS:
            b = build(overlay)
            self.assertEqual(b.kind("Secret"), [], "Secrets are created by the operator")
            for cm in b.kind("ConfigMap"):
                for key in cm["data"]:
                    with self.subTest(config_map=cm["metadata"]["name"], key=key):
                        self.assertNotRegex(key, r"(SECRET|PASSWORD|DATABASE_URL|MONGO_URL|REDIS_URL|SERVICE_CLIENTS)$")


class MeshPolicyMatchesTheContracts(unittest.TestCase):
    def grpc_paths(self, b):
        """(object, path) for every gRPC path an AuthorizationPolicy or VirtualService names."""
        for p in b.kind("AuthorizationPolicy"):
            for rule in p["spec"].get("rules", []):
                for to in rule.get("to", []):
                    for path in to["operation"].get("paths", []):
                        if not path.startswith("/."):
                            yield p, path
        for vs in b.kind("VirtualService"):
            for route in vs["spec"]["http"]:
                for m in route.get("match", []):
                    yield vs, m["uri"]["exact"]

    def test_every_grpc_path_in_policy_exists_in_the_protos(self):
        protos = proto_methods()
        for overlay in OVERLAYS:
            seen = 0
            for obj, path in self.grpc_paths(build(overlay)):
                seen += 1
                with self.subTest(overlay=overlay, object=obj["metadata"]["name"], path=path):
                    m = re.fullmatch(r"/([\w.]+)/(\w+)", path)
                    self.assertIsNotNone(m, "not a gRPC path")
                    service, method = m.groups()
                    self.assertIn(service, protos)
                    self.assertIn(method, protos[service])
                    # A policy for service X names only X's methods.
                    self.assertEqual(service.split(".")[1], obj["metadata"]["name"])
            self.assertGreater(seen, 100)

    def allowed(self, b, service, method):
        """The callers' principals that may call service/method."""
        policy = b.get("AuthorizationPolicy", service)
        self.assertEqual(policy["spec"]["action"], "ALLOW")
        path = f"/{self.proto_service(service)}/{method}"
        principals = set()
        for rule in policy["spec"]["rules"]:
            paths = [p for to in rule.get("to", []) for p in to["operation"].get("paths", [])]
            if not rule.get("to") or path in paths:
                for f in rule.get("from", [{"source": {"principals": ["*"]}}]):
                    principals.update(f["source"].get("principals", ["*"]))
        return principals

    def proto_service(self, svc):
        return next(s for s in proto_methods() if s.split(".")[1] == svc)

    def test_deny_by_default_with_strict_mtls_everywhere(self):
        for overlay in OVERLAYS:
            b = build(overlay)
            deny = b.get("AuthorizationPolicy", "deny-by-default")
            self.assertEqual(deny["spec"], {})
            mesh_wide = b.get("PeerAuthentication", "default")
            self.assertEqual(mesh_wide["metadata"]["namespace"], "istio-system")
            self.assertEqual(mesh_wide["spec"], {"mtls": {"mode": "STRICT"}})
            for svc in service_dirs():
                with self.subTest(overlay=overlay, service=svc):
                    dr = b.get("DestinationRule", svc)["spec"]["trafficPolicy"]
                    self.assertEqual(dr["tls"]["mode"], "ISTIO_MUTUAL")
                    self.assertIn("outlierDetection", dr)
                    self.assertIn("connectionPool", dr)

    def test_only_the_saga_moves_stock_and_money(self):
        def sa(name):
            return f"cluster.local/ns/mandi/sa/{name}"

        for overlay in OVERLAYS:
            b = build(overlay)
            for method in ("Reserve", "Commit", "Release"):
                self.assertEqual(self.allowed(b, "inventory", method), {sa("checkout"), sa("order")})
            self.assertEqual(self.allowed(b, "payment", "CapturePayment"), {sa("checkout")})
            self.assertEqual(self.allowed(b, "payment", "AuthorizePayment"), {sa("checkout")})
            self.assertEqual(self.allowed(b, "order", "CreateOrder"), {sa("checkout")})
            # Every service may fetch identity's keys; a public method is reached from the edge.
            for svc in service_dirs():
                if svc != "identity":
                    self.assertIn(sa(svc), self.allowed(b, "identity", "GetJwks"))
            self.assertEqual(self.allowed(b, "catalog", "SearchProducts"), {sa("gateway")})

    def test_the_mesh_lets_through_what_the_edge_forwards_and_nothing_internal(self):
        # services/gateway/src/edge.rs decides per method what the public edge forwards;
        # the gateway's service account must be allowed exactly those in the mesh, or
        # storefront calls die at a sidecar (or internal ones leak past the edge).
        edge_rs = os.path.join(ROOT, "services", EDGE, "src", "edge.rs")
        self.assertTrue(os.path.exists(edge_rs), "the gateway's edge rules are gone")
        with open(edge_rs) as f:
            rules = dict(re.findall(r'\(\s*"(/mandi\.[\w.]+/\w+)",\s*([\w:]+),?\s*\)', f.read()))
        self.assertIn("/mandi.inventory.v1.InventoryService/Reserve", rules)
        # The rule, stricter than the edge's ADMIN_OR_INTERNAL: only the checkout
        # saga captures; an operator's capture through the edge is refused by the mesh.
        saga_only = {"/mandi.payment.v1.PaymentService/CapturePayment"}
        gateway = "cluster.local/ns/mandi/sa/gateway"
        deployed = set(service_dirs())
        for overlay in OVERLAYS:
            b = build(overlay)
            for service, methods in proto_methods().items():
                svc = service.split(".")[1]
                if svc not in deployed:
                    continue
                for method in sorted(methods):
                    path = f"/{service}/{method}"
                    policy = rules.get(path, "signed-in")
                    with self.subTest(overlay=overlay, path=path, edge=policy):
                        allowed = gateway in self.allowed(b, svc, method)
                        if policy == "INTERNAL" or path in saga_only:
                            self.assertFalse(allowed, "internal method reachable from the edge")
                        else:
                            self.assertTrue(allowed, "the edge forwards it but the mesh denies it")

    def test_retries_only_on_reads_and_never_on_payment_capture(self):
        reads = ("Get", "List", "BatchGet", "Search", "Suggest")
        for overlay in OVERLAYS:
            for vs in build(overlay).kind("VirtualService"):
                for route in vs["spec"]["http"]:
                    attempts = route.get("retries", {}).get("attempts", 0)
                    methods = [m["uri"]["exact"].rsplit("/", 1)[1] for m in route.get("match", [])]
                    with self.subTest(overlay=overlay, vs=vs["metadata"]["name"], route=route.get("name")):
                        self.assertIn("timeout", route)
                        if attempts:
                            self.assertTrue(methods, "retries on a catch-all route")
                            self.assertTrue(all(m.startswith(reads) for m in methods), methods)
                            self.assertEqual(route["retries"]["retryOn"], "unavailable,cancelled")
                        self.assertNotIn("CapturePayment", methods if attempts else [])
            capture = [
                r for r in build(overlay).get("VirtualService", "payment")["spec"]["http"]
                if {"uri": {"exact": "/mandi.payment.v1.PaymentService/CapturePayment"}} in r.get("match", [])
            ]
            self.assertEqual(len(capture), 1)
            self.assertEqual(capture[0]["retries"], {"attempts": 0})

    def test_request_authentication_points_at_identitys_jwks(self):
        auth = read("crates/runtime/src/auth.rs")
        issuer = re.search(r'pub const ISSUER: &str = "([^"]+)"', auth).group(1)
        audience = re.search(r'pub const AUDIENCE: &str = "([^"]+)"', auth).group(1)
        route = re.search(r'"(/\.well-known/[\w.]+)"', read("services/identity/src/lib.rs")).group(1)
        admin = server_defaults()["admin"]
        for overlay in OVERLAYS:
            b = build(overlay)
            (rule,) = b.get("RequestAuthentication", "mandi-jwt")["spec"]["jwtRules"]
            self.assertEqual(rule["issuer"], issuer)
            self.assertEqual(rule["audiences"], [audience])
            self.assertEqual(rule["jwksUri"], f"http://identity.mandi.svc.cluster.local:{admin}{route}")
            # istiod fetches it without a sidecar: that port alone is PERMISSIVE.
            pa = b.get("PeerAuthentication", "identity-jwks")["spec"]
            self.assertEqual(pa["portLevelMtls"], {str(admin): {"mode": "PERMISSIVE"}})

    def test_the_edge_is_exposed_through_the_ingress_gateway(self):
        for overlay in OVERLAYS:
            b = build(overlay)
            gw = b.get("Gateway", "mandi-ingress")
            edge = b.get("VirtualService", "mandi-edge")
            self.assertEqual(edge["spec"]["gateways"], [gw["metadata"]["name"]])
            (route,) = edge["spec"]["http"]
            self.assertEqual(route["route"][0]["destination"]["host"], "gateway.mandi.svc.cluster.local")
            self.assertIn(
                "cluster.local/ns/istio-system/sa/istio-ingressgateway-service-account",
                self.allowed_any(b, EDGE),
            )

    def allowed_any(self, b, svc):
        return {
            p
            for rule in b.get("AuthorizationPolicy", svc)["spec"]["rules"]
            for f in rule.get("from", [])
            for p in f["source"].get("principals", [])
        }


class OverlaysDiffer(unittest.TestCase):
    def test_dev_runs_one_replica_and_prod_spreads_and_scales(self):
        dev, prod = build("dev"), build("prod")
        self.assertEqual(dev.kind("HorizontalPodAutoscaler"), [])
        for d in dev.kind("Deployment"):
            self.assertEqual(d["spec"].get("replicas"), 1, d["metadata"]["name"])
        hpas = {h["metadata"]["name"]: h for h in prod.kind("HorizontalPodAutoscaler")}
        self.assertTrue(hpas)
        for d in prod.kind("Deployment"):
            name = d["metadata"]["name"]
            with self.subTest(deployment=name):
                if name in hpas:
                    self.assertNotIn("replicas", d["spec"], "an apply would reset the HPA")
                    self.assertGreaterEqual(hpas[name]["spec"]["minReplicas"], 2)
                else:
                    self.assertGreaterEqual(d["spec"]["replicas"], 2)
                self.assertIn("podAntiAffinity", d["spec"]["template"]["spec"]["affinity"])


class ValidatorsRefuseMistakes(unittest.TestCase):
    """The schema checks are only worth something if they fail on a wrong object."""

    def test_kubernetes_validate_refuses_an_unknown_field(self):
        d = json.loads(json.dumps(build("prod").get("Deployment", "identity")))
        d["spec"]["template"]["spec"]["containers"][0]["readinessProbes"] = {}
        with self.assertRaises(kubernetes_validate.ValidationError):
            kubernetes_validate.validate(d, "1.35.0", strict=True)

    def test_the_istio_schemas_refuse_bad_and_unknown_fields(self):
        vs = json.loads(json.dumps(build("prod").get("VirtualService", "catalog")))
        ok = self.istio([vs])
        self.assertEqual(ok.returncode, 0, ok.stdout)
        typo = json.loads(json.dumps(vs))
        typo["spec"]["http"][0]["retrys"] = typo["spec"]["http"][0].pop("retries")
        bad_type = json.loads(json.dumps(vs))
        bad_type["spec"]["http"][0]["retries"]["attempts"] = "two"
        for broken, expected in ((typo, "unknown field /spec/http/0/retrys"), (bad_type, '/spec/http/0/retries/attempts: type {"type":"integer"}')):
            result = self.istio([broken])
            self.assertEqual(result.returncode, 1, result.stdout)
            self.assertIn(expected, result.stdout)

    def istio(self, objects):
        return subprocess.run(
            ["node", os.path.join(ROOT, "scripts", "deploy", "istio-validate.mjs"), NODE_MODULES],
            input=json.dumps(objects),
            capture_output=True,
            text=True,
        )


if __name__ == "__main__":
    unittest.main()
