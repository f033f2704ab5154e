// The gateway's rate limit as a shopper meets it: a sentence saying how long to wait
// (from the RetryInfo the gateway attaches to RESOURCE_EXHAUSTED), not an error code.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { screenshot, startShop, withPage } from "./harness.mjs";

let shop;

before(async () => {
  // A small per-IP budget: every call here comes from 127.0.0.1.
  shop = await startShop("ratelimit", { env: { MANDI_GATEWAY__IP_RATE_LIMIT: "20/1m" } });
});

after(async () => {
  await shop?.stop();
});

test("searching faster than the gateway allows says how long to wait", () =>
  withPage(shop.browser, { viewport: { width: 390, height: 844 }, isMobile: true }, "ratelimit", async (page) => {
    await page.goto(shop.origin);
    const search = page.getByRole("combobox", { name: "Search products" });
    const alert = page.getByRole("alert");
    for (let i = 0; i < 40 && !(await alert.isVisible()); i++) {
      await search.fill(`mango ${i}`);
      await page.getByRole("button", { name: "Search" }).click();
      await page.waitForURL(new RegExp(`q=mango\\+${i}$`));
      await page.waitForLoadState("networkidle");
    }
    await alert.waitFor();
    assert.match(await alert.innerText(), /^You're going a bit fast\. Please wait \d+ seconds? and try again\.$/);
    // No "no products match" under it: the search did not run, it found nothing.
    assert.equal(await page.getByText(/No products match/).count(), 0);
    await screenshot(page, "ratelimit-1-message");
  }));
