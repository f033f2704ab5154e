// Live delivery tracking in the browser: the order page follows ShippingService's
// WatchShipment stream through grpc-web while operations assign a rider and the rider
// moves the shipment along, with no reload.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { productBySlug, rider, screenshot, startShop, stock, withPage } from "./harness.mjs";

const PHONE = { locale: "en-IN", timezoneId: "Asia/Kolkata", viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true };

let shop;
let product;

before(async () => {
  shop = await startShop("tracking");
  product = await productBySlug(shop.admin, "ooty-carrot");
  await stock(shop.admin, product.id, 50_000);
});

after(async () => {
  await shop?.stop();
});

test("an order's delivery is tracked live: rider assigned, picked up, out for delivery, delivered", () =>
  withPage(shop.browser, PHONE, "tracking", async (page) => {
    // Sign up, buy, pay by card.
    await page.goto(`${shop.origin}/register?next=/products/ooty-carrot`);
    await page.getByLabel("Name").fill("Farah Khan");
    await page.getByLabel("Email").fill(`tracking-${Date.now()}@example.com`);
    await page.getByLabel("Password").fill("correct horse battery");
    await page.getByRole("button", { name: "Create account" }).click();
    await page.getByRole("heading", { level: 1, name: product.displayName }).waitFor();
    await page.getByRole("button", { name: "Add to cart" }).click();
    await page.getByRole("link", { name: /^Cart, 1 item$/ }).waitFor();
    await page.goto(`${shop.origin}/checkout`);
    await page.getByLabel("House and street").fill("3 Church Street");
    await page.getByLabel("City").fill("Bengaluru");
    await page.getByLabel("PIN code").fill("560001");
    await page.getByLabel("Phone").fill("+919812345678");
    await page.getByRole("button", { name: "Use this address" }).click();
    await page.getByRole("group", { name: "Delivery slot" }).getByRole("radio").first().waitFor();
    await page.getByLabel("Card number").fill("4242424242424242");
    await page.getByLabel("Expiry (MM/YY)").fill("12/30");
    await page.getByRole("button", { name: "Place order" }).click();
    await page.getByRole("heading", { name: "Thank you! Your order is placed" }).waitFor({ timeout: 30_000 });
    await page.getByRole("link", { name: "View your order" }).click();

    // The shipment waits for a rider; its proof-of-delivery code is shown to the shopper.
    const status = page.locator(".tracking [role=status]");
    await status.getByText("Waiting for a rider").waitFor({ timeout: 20_000 });
    assert.match(await page.getByText(/Delivery code for the rider/).innerText(), /\d{6}/);
    await screenshot(page, "tracking-1-waiting");

    const orderId = new URL(page.url()).pathname.split("/").pop();
    const { shipments } = await shop.admin.shipping.listShipments({ orderId });
    assert.equal(shipments.length, 1);
    const shipmentId = shipments[0].id;
    const ravi = await rider(shop.admin, "Ravi Kumar");

    await shop.admin.shipping.assignRider({ shipmentId, riderId: ravi.id, requestId: crypto.randomUUID() });
    await status.getByText("Rider assigned").waitFor();
    assert.match(await status.innerText(), /Rider: Ravi Kumar/);

    for (const [code, words] of [
      [3 /* PICKED_UP */, "Picked up from the warehouse"],
      [4 /* OUT_FOR_DELIVERY */, "Out for delivery"],
      [5 /* DELIVERED */, "Delivered"],
    ]) {
      await shop.admin.shipping.updateShipmentStatus({ shipmentId, status: code, requestId: crypto.randomUUID() });
      await status.getByText(words, { exact: true }).waitFor();
    }
    // Each step is on the timeline, oldest first.
    const timeline = await page.getByRole("list", { name: "Tracking updates" }).innerText();
    const at = (w) => timeline.indexOf(w);
    assert.ok(at("Rider assigned") < at("Picked up") && at("Picked up") < at("Out for delivery") && at("Out for delivery") < at("Delivered"), timeline);
    await screenshot(page, "tracking-2-delivered");
  }));
