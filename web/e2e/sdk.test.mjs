// The TypeScript SDK from Node over grpc-web, against
// `mandi-server --target=all`: sessions, token refresh on UNAUTHENTICATED, and decoded
// error details.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { Code, callError, createMandi, formatMoney, memorySessionStore } from "./.sdk/mandi-sdk.mjs";
import { startShop } from "./harness.mjs";

let shop;

before(async () => {
  shop = await startShop("sdk", { browser: false });
});

after(async () => {
  await shop?.stop();
});

async function newUser(mandi) {
  const email = `sdk-${Date.now()}-${Math.floor(Math.random() * 1e6)}@example.com`;
  const password = "correct horse battery";
  await mandi.identity.register({ name: "Meera", email, password, requestId: crypto.randomUUID() });
  return { email, password };
}

test("a refused access token is renewed with the refresh token once, and the call retried", async () => {
  const sessions = memorySessionStore();
  const mandi = createMandi({ baseUrl: shop.origin, sessions });
  const { email, password } = await newUser(mandi);
  const first = await mandi.login(email, password);
  sessions.set({ ...first, accessToken: "not-a-token" });

  const me = await mandi.identity.getCurrentUser({});

  assert.equal(me.user.email, email);
  const renewed = sessions.get();
  assert.notEqual(renewed.accessToken, "not-a-token");
  // Refresh tokens rotate on every use.
  assert.notEqual(renewed.refreshToken, first.refreshToken);
});

test("calls refused at the same time share one refresh, so the rotating refresh token is not reused", async () => {
  const sessions = memorySessionStore();
  let expired = 0;
  const mandi = createMandi({ baseUrl: shop.origin, sessions, onSessionExpired: () => expired++ });
  const { email, password } = await newUser(mandi);
  const first = await mandi.login(email, password);
  sessions.set({ ...first, accessToken: "not-a-token" });

  // A second use of a spent refresh token would revoke the whole sign-in.
  const answers = await Promise.all([1, 2, 3, 4].map(() => mandi.identity.getCurrentUser({})));

  assert.ok(answers.every((a) => a.user.email === email));
  assert.equal(expired, 0);
  await mandi.identity.getCurrentUser({});
});

test("an access token about to expire is renewed before the call", async () => {
  const sessions = memorySessionStore();
  const mandi = createMandi({ baseUrl: shop.origin, sessions });
  const { email, password } = await newUser(mandi);
  const first = await mandi.login(email, password);
  sessions.set({ ...first, expiresAt: Date.now() - 1 });

  await mandi.identity.getCurrentUser({});

  assert.notEqual(sessions.get().refreshToken, first.refreshToken);
  assert.ok(sessions.get().expiresAt > Date.now());
});

test("a session whose refresh token was revoked ends, and the caller is told", async () => {
  const sessions = memorySessionStore();
  let expired = 0;
  const mandi = createMandi({ baseUrl: shop.origin, sessions, onSessionExpired: () => expired++ });
  const { email, password } = await newUser(mandi);
  const session = await mandi.login(email, password);
  // Signing out elsewhere revokes the refresh token.
  await createMandi({ baseUrl: shop.origin }).identity.logout({ refreshToken: session.refreshToken });
  sessions.set({ ...session, accessToken: "not-a-token" });

  await assert.rejects(mandi.identity.getCurrentUser({}), (err) => callError(err).code === Code.Unauthenticated);

  assert.equal(sessions.get(), null);
  assert.equal(expired, 1);
});

test("field violations and ErrorInfo are decoded from a failed call", async () => {
  {
    const mandi = createMandi({ baseUrl: shop.origin });
    const err = await mandi.identity
      .register({ name: "", email: "not-an-email", password: "x", requestId: crypto.randomUUID() })
      .then(() => assert.fail("register with bad input succeeded"), (e) => callError(e));
    assert.equal(err.code, Code.InvalidArgument);
    const fields = err.fields.map((f) => f.field);
    assert.ok(fields.includes("email"), `fields: ${fields}`);
    assert.ok(fields.includes("password"), `fields: ${fields}`);
    assert.ok(err.fields.every((f) => f.description.length > 0));
  }
  const mandi = createMandi({ baseUrl: shop.origin });
  const { email } = await newUser(mandi);
  const taken = await mandi.identity
    .register({ name: "Meera", email, password: "another password", requestId: crypto.randomUUID() })
    .then(() => assert.fail("second account with one email"), (e) => callError(e));
  assert.equal(taken.code, Code.AlreadyExists);
  assert.equal(taken.reason, "EMAIL_TAKEN");
  assert.equal(taken.domain, "mandi.identity");
});

test("money is formatted from integer minor units without float drift", () => {
  assert.equal(formatMoney({ currencyCode: "INR", amountMinor: 12345678901n }), "₹12,34,56,789.01");
  assert.equal(formatMoney({ currencyCode: "INR", amountMinor: 5n }), "₹0.05");
  assert.equal(formatMoney({ currencyCode: "INR", amountMinor: -250n }), "-₹2.50");
});
