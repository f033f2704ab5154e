// What every storefront browser test needs: a fresh `mandi-server --target=all` on free
// ports, its gateway serving the storefront and its grpc-web calls on one origin, an
// admin client on the SDK (grpc-web from Node) to stock products, and Debian's Chromium
// through playwright-core.
// Everything missing fails loudly: these tests never skip.
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, createWriteStream } from "node:fs";
import http from "node:http";
import net from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { createMandi } from "./.sdk/mandi-sdk.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
export const webRoot = path.resolve(here, "..");
export const repoRoot = path.resolve(webRoot, "..");
export const artifacts = path.join(here, "artifacts");
mkdirSync(artifacts, { recursive: true });

/** The admin a test server bootstraps (the first account registered with this email). */
export const ADMIN_EMAIL = "root@mandi.example";
const ADMIN_PASSWORD = "admin password for tests";

export const CHROMIUM = process.env.MANDI_CHROMIUM ?? "/usr/bin/chromium";

function serverBinary() {
  if (process.env.MANDI_SERVER_BIN) return process.env.MANDI_SERVER_BIN;
  const target = process.env.CARGO_TARGET_DIR ?? path.join(repoRoot, "target");
  return path.join(target, "debug", "mandi-server");
}

async function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

async function waitFor(what, check, timeoutMs, child) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    if (child && child.exitCode !== null) throw new Error(`${what}: the server exited with ${child.exitCode}`);
    try {
      if (await check()) return;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what}: not ready after ${timeoutMs}ms${last ? ` (${last.message})` : ""}`);
}

function get(url) {
  return new Promise((resolve, reject) => {
    http.get(url, (res) => {
      let body = "";
      res.on("data", (c) => (body += c));
      res.on("end", () => resolve({ status: res.statusCode, body, headers: res.headers }));
    }).on("error", reject);
  });
}

/**
 * Starts a server and the storefront; `name` names its log under artifacts/. Without
 * `browser`, no Chromium is launched (SDK-only tests); `env` adds or overrides settings.
 */
export async function startShop(name, { browser: withBrowser = true, env = {} } = {}) {
  const bin = serverBinary();
  if (!existsSync(bin)) throw new Error(`mandi-server not found at ${bin}: run \`cargo build -p mandi-server\` (or set MANDI_SERVER_BIN)`);
  if (!existsSync(path.join(webRoot, "dist", "index.html"))) throw new Error("web/dist is missing: run `make web`");
  const [grpcPort, adminPort, gatewayPort] = await Promise.all([freePort(), freePort(), freePort()]);
  const log = createWriteStream(path.join(artifacts, `${name}.server.log`));
  const child = spawn(bin, ["--target=all", `--listen=127.0.0.1:${grpcPort}`, `--admin-listen=127.0.0.1:${adminPort}`], {
    cwd: repoRoot,
    env: {
      ...process.env,
      MANDI_IDENTITY__ADMIN_EMAILS: ADMIN_EMAIL,
      // Cheap password hashing: these tests are not about argon2's cost.
      MANDI_IDENTITY__ARGON2_MEMORY_KIB: "1024",
      MANDI_GATEWAY__LISTEN: `127.0.0.1:${gatewayPort}`,
      MANDI_GATEWAY__WEB_ROOT: path.join(webRoot, "dist"),
      // Every call of every test comes from 127.0.0.1: the per-IP limit is not under test.
      MANDI_GATEWAY__IP_RATE_LIMIT: "100000/1m",
      MANDI_GATEWAY__USER_RATE_LIMIT: "100000/1m",
      MANDI_LOG__FORMAT: "json",
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  child.stdout.pipe(log);
  child.stderr.pipe(log);
  await waitFor("mandi-server readiness", async () => (await get(`http://127.0.0.1:${adminPort}/readyz`)).status === 200, 60_000, child);

  // The gateway serves the storefront and proxies its grpc-web calls: one origin, as for shoppers.
  const origin = `http://127.0.0.1:${gatewayPort}`;
  await waitFor("the gateway serving the storefront", async () => {
    const r = await get(`${origin}/`);
    return r.status === 200 && r.body.includes('<div id="app">');
  }, 30_000, child);

  // Node's fetch speaks grpc-web to the same origin the browser uses.
  const admin = createMandi({ baseUrl: origin });
  await admin.identity.register({ name: "Root", email: ADMIN_EMAIL, password: ADMIN_PASSWORD, requestId: crypto.randomUUID() });
  await admin.login(ADMIN_EMAIL, ADMIN_PASSWORD);

  const browser = withBrowser ? await launchBrowser() : null;
  return {
    origin,
    admin,
    browser,
    async stop() {
      await browser?.close().catch(() => {});
      child.kill("SIGTERM");
      await new Promise((r) => (child.exitCode !== null ? r() : child.once("exit", r)));
    },
  };
}

export async function launchBrowser() {
  if (!existsSync(CHROMIUM)) throw new Error(`Chromium not found at ${CHROMIUM}: run scripts/ensure-chromium.sh`);
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: ["--no-sandbox", "--disable-dev-shm-usage"] });
}

/** Finds a product by slug through search, as the storefront does. */
export async function productBySlug(mandi, slug) {
  const r = await mandi.catalog.searchProducts({ query: slug.replace(/-/g, " "), pageSize: 50 });
  const p = r.products.find((x) => x.slug === slug);
  if (!p) throw new Error(`no product ${slug} in the demo catalog`);
  return p;
}

/** Receives `quantity` of a product into a new warehouse, expiring in a week. */
export async function stock(admin, productId, quantity) {
  const code = `W-${crypto.randomUUID().replace(/-/g, "").slice(-8).toUpperCase()}`;
  const w = await admin.inventory.createWarehouse({
    warehouse: { code, displayName: "Bengaluru North", location: { line1: "1 Market Road", city: "Bengaluru", countryCode: "IN" } },
    requestId: crypto.randomUUID(),
  });
  const inAWeek = BigInt(Math.floor(Date.now() / 1000) + 7 * 86400);
  await admin.inventory.receiveStock({
    productId,
    warehouseId: w.warehouse.id,
    quantity: BigInt(quantity),
    expireTime: { seconds: inAWeek, nanos: 0 },
    supplierRef: "FARM-7",
    requestId: crypto.randomUUID(),
  });
}

/**
 * Saves a full-page screenshot under artifacts/, after checking the page's basic
 * accessibility: every control has an accessible name, there is one h1, and the page is
 * no wider than the window.
 */
export async function screenshot(page, name) {
  const problems = await page.evaluate(() => {
    const out = [];
    const named = (el) =>
      (el.labels && el.labels.length > 0) ||
      el.getAttribute("aria-label") ||
      el.getAttribute("aria-labelledby") ||
      ((el.tagName === "BUTTON" || el.tagName === "A") && el.textContent.trim());
    for (const el of document.querySelectorAll("input, select, textarea, button, a[href]")) {
      if (!named(el)) out.push(`unnamed ${el.tagName.toLowerCase()} ${el.outerHTML.slice(0, 80)}`);
    }
    for (const img of document.querySelectorAll("img:not([alt])")) out.push(`image without alt: ${img.src}`);
    const h1 = document.querySelectorAll("h1").length;
    if (h1 !== 1) out.push(`${h1} h1 headings`);
    // Nothing may push the page sideways, least of all on a phone.
    const wide = document.documentElement.scrollWidth;
    if (wide > window.innerWidth) out.push(`the page is ${wide}px wide in a ${window.innerWidth}px window`);
    return out;
  });
  await page.screenshot({ path: path.join(artifacts, `${name}.png`), fullPage: true });
  if (problems.length) throw new Error(`accessibility problems on ${name}:\n${problems.join("\n")}`);
}

/**
 * A delivery rider on duty in Bengaluru central: a user given the delivery role and
 * registered with shipping, AVAILABLE so shipments there can be assigned to them.
 */
export async function rider(admin, displayName) {
  const email = `rider-${crypto.randomUUID()}@example.com`;
  const { user } = await admin.identity.register({ name: displayName, email, password: "rider password 123", requestId: crypto.randomUUID() });
  await admin.identity.setUserRole({ userId: user.id, role: 4 /* ROLE_DELIVERY */, requestId: crypto.randomUUID() });
  const created = await admin.shipping.createRider({
    rider: {
      userId: user.id,
      displayName,
      phone: "+919800000001",
      vehicleType: 2 /* VEHICLE_TYPE_MOTORCYCLE */,
      coldChain: true,
      maxLoadGrams: 50_000n,
      zoneIds: ["blr-central"],
    },
    requestId: crypto.randomUUID(),
  });
  await admin.shipping.updateRider({
    rider: { id: created.rider.id, status: 1 /* RIDER_STATUS_AVAILABLE */ },
    updateMask: { paths: ["status"] },
    requestId: crypto.randomUUID(),
  });
  return created.rider;
}

/**
 * Runs `fn` with a fresh page (its own cookies and storage) in `browser`; when it fails,
 * the page as it was is saved as artifacts/<name>-failure.png before the error goes on.
 */
export async function withPage(browser, options, name, fn) {
  const context = await browser.newContext(options);
  const page = await context.newPage();
  page.setDefaultTimeout(15_000);
  try {
    await fn(page);
  } catch (err) {
    await page.screenshot({ path: path.join(artifacts, `${name}-failure.png`), fullPage: true }).catch(() => {});
    throw err;
  } finally {
    await context.close();
  }
}
