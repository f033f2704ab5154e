// The storefront in a real browser (Debian's Chromium through playwright-core) against
// `mandi-server --target=all`: what a shopper does, end to end, with screenshots in
// e2e/artifacts/.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { productBySlug, screenshot, startShop, stock, withPage } from "./harness.mjs";

// Shoppers are in India: delivery slots read in their local time.
const INDIA = { locale: "en-IN", timezoneId: "Asia/Kolkata" };
const PHONE = { ...INDIA, viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 };
const DESKTOP = { ...INDIA, viewport: { width: 1280, height: 900 } };

let shop;
let mango;
let carrot;

before(async () => {
  shop = await startShop("storefront");
  mango = await productBySlug(shop.admin, "alphonso-mango");
  // Enough for every test's cart, in the product's unit (grams for weight-priced products).
  await stock(shop.admin, mango.id, 200_000);
  carrot = await productBySlug(shop.admin, "ooty-carrot");
  await stock(shop.admin, carrot.id, 100_000);
});

after(async () => {
  await shop?.stop();
});


function email(tag) {
  return `${tag}-${Date.now()}-${Math.floor(Math.random() * 1e6)}@example.com`;
}

/** As a guest: search, open the product, add it to the cart. */
async function searchAndAdd(page, shot) {
  await page.goto(shop.origin);
  await page.getByRole("combobox", { name: "Search products" }).fill("alphonso");
  await page.getByRole("button", { name: "Search" }).click();
  const card = page.getByRole("listitem").filter({ has: page.getByRole("heading", { name: mango.displayName, exact: true }) });
  await card.getByRole("link", { name: mango.displayName, exact: true }).waitFor();
  await screenshot(page, `${shot}-1-search`);
  await card.getByRole("link", { name: mango.displayName, exact: true }).click();
  await page.getByRole("heading", { level: 1, name: mango.displayName }).waitFor();
  await page.getByText("Origin and freshness").waitFor();
  assert.match(await page.locator(".price.big").innerText(), /^₹1,200\.00 \/ dozen/);
  assert.match(await page.locator(".facts").innerText(), /Origin\s+Ratnagiri, IN/);
  assert.match(await page.getByRole("table").innerText(), /Energy\s+60 kcal/);
  await screenshot(page, `${shot}-2-product`);
  await page.getByRole("button", { name: "Add to cart" }).click();
  await page.getByRole("link", { name: /^Cart, 1 item$/ }).waitFor();
}

/** From the cart: sign up (which merges the guest cart) and land on checkout. */
async function registerFromCart(page, shot, address) {
  await page.getByRole("link", { name: /^Cart,/ }).click();
  await page.getByRole("heading", { name: "Your cart" }).waitFor();
  assert.ok(await page.getByRole("list", { name: "Items in your cart" }).getByText(mango.displayName).isVisible());
  await screenshot(page, `${shot}-3-cart`);
  await page.getByRole("button", { name: "Sign in to checkout" }).click();
  await page.getByRole("link", { name: "Create an account" }).click();
  await page.getByLabel("Name").fill("Asha Rao");
  await page.getByLabel("Email").fill(email(shot));
  await page.getByLabel("Password").fill("correct horse battery");
  await page.getByRole("button", { name: "Create account" }).click();
  await page.getByRole("heading", { name: "Checkout" }).waitFor();
  // The guest cart was merged into the new account's cart.
  await page.getByRole("link", { name: /^Cart, 1 item$/ }).waitFor();
  await page.getByLabel("House and street").fill(address.line1);
  await page.getByLabel("City").fill("Bengaluru");
  await page.getByLabel("PIN code").fill("560001");
  await page.getByLabel("Phone").fill("+919812345678");
  await page.getByRole("button", { name: "Use this address" }).click();
  await page.getByRole("radio", { name: new RegExp(address.line1) }).waitFor();
  assert.ok(await page.getByRole("radio", { name: new RegExp(address.line1) }).isChecked());
}

async function payByCard(page, number) {
  await page.getByRole("radio", { name: "Card" }).check();
  await page.getByLabel("Card number").fill(number);
  await page.getByLabel("Expiry (MM/YY)").fill("12/30");
  await page.getByRole("button", { name: "Place order" }).click();
}

test("a shopper searches, adds to the cart as a guest, registers, pays by card and sees the order", () =>
  withPage(shop.browser, DESKTOP, "order", async (page) => {
    await searchAndAdd(page, "order");
    await registerFromCart(page, "order", { line1: "12 MG Road" });
    // Slots for the address (Bengaluru central), soonest first, in the shopper's time.
    const slots = page.getByRole("group", { name: "Delivery slot" }).getByRole("radio");
    await slots.first().waitFor();
    assert.ok((await slots.count()) >= 2, "fewer than two delivery slots offered");
    assert.ok(await slots.first().isChecked(), "the soonest open slot is not preselected");
    const chosen = slots.nth(1);
    await chosen.check();
    assert.match(await page.getByRole("group", { name: "Delivery slot" }).locator("label").nth(1).innerText(), /\d{1,2}:\d{2} [ap]m–\d{1,2}:\d{2} [ap]m/i);
    // Delivery is quoted for the basket, address and slot before paying.
    const totals = page.locator("dl.totals");
    await totals.getByText("Delivery", { exact: true }).waitFor();
    const shown = (await totals.locator("dd.total").innerText()).trim();
    await screenshot(page, "order-4-checkout");
    await payByCard(page, "4242 4242 4242 4242");

    await page.getByRole("heading", { name: "Thank you! Your order is placed" }).waitFor({ timeout: 30_000 });
    const progress = page.getByRole("list", { name: "Checkout progress" });
    for (const step of ["Order created", "Items set aside for you", "Delivery slot booked", "Payment confirmed", "Order placed"]) {
      // Each step is marked done, for sight (✓) and for screen readers ("(done)").
      const item = progress.getByRole("listitem").filter({ hasText: step });
      assert.match(await item.textContent(), new RegExp(`✓ ${step}\\s*\\(done\\)`));
    }
    // Charged what the checkout page showed.
    assert.equal(await page.getByText(/to the card ending 4242/).innerText(), `We've charged ${shown} to the card ending 4242.`);
    await screenshot(page, "order-5-placed");

    await page.getByRole("link", { name: "View your order" }).click();
    await page.getByRole("heading", { name: /^Order [0-9A-F]{8}$/ }).waitFor();
    assert.ok(await page.getByRole("list", { name: "Items in this order" }).getByText(mango.displayName).isVisible());
    assert.ok(await page.getByText("Paid", { exact: true }).first().isVisible());
    await screenshot(page, "order-6-order");

    await page.getByRole("link", { name: "Orders" }).click();
    const orders = page.getByRole("list", { name: "Orders" });
    await orders.waitFor();
    assert.equal(await orders.getByRole("listitem").count(), 1);
    await screenshot(page, "order-7-history");
    // The cart was cleared by the checkout.
    await page.getByRole("link", { name: /^Cart, 0 items$/ }).waitFor();
    // The session survives a reload (kept in local storage), and signing out ends it.
    await page.reload();
    await page.getByRole("list", { name: "Orders" }).waitFor();
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.getByRole("link", { name: "Sign in" }).waitFor();
    assert.equal(await page.evaluate(() => localStorage.getItem("mandi.session")), null);
  }));

test("a declined card says so in plain words on a phone, and nothing is ordered", () =>
  withPage(shop.browser, PHONE, "declined", async (page) => {
    await searchAndAdd(page, "declined");
    await registerFromCart(page, "declined", { line1: "7 Residency Road" });
    await payByCard(page, "4000000000000002");

    const alert = page.getByRole("alert");
    await alert.waitFor({ timeout: 30_000 });
    assert.match(await alert.innerText(), /Your card was declined by your bank\. You have not been charged\. Try another card or pay cash on delivery\./);
    assert.ok(await page.getByText("Order not placed").isVisible());
    // Still on checkout, with the cart intact for another try.
    await page.getByRole("button", { name: "Place order" }).waitFor();
    await page.getByRole("link", { name: /^Cart, 1 item$/ }).waitFor();
    // Nothing spills sideways on a 390px-wide screen.
    const width = await page.evaluate(() => document.documentElement.scrollWidth);
    assert.ok(width <= 390, `page is ${width}px wide on a 390px screen`);
    await screenshot(page, "declined-4-message");

    // Another try, cash on delivery this time, goes through.
    await page.getByRole("radio", { name: "Cash on delivery" }).check();
    await page.getByRole("button", { name: "Place order" }).click();
    await page.getByRole("heading", { name: "Thank you! Your order is placed" }).waitFor({ timeout: 30_000 });
    assert.match(await page.getByText(/in cash on delivery/).innerText(), /You'll pay ₹[\d,.]+ in cash on delivery/);
    await screenshot(page, "declined-5-cash-on-delivery");
  }));

test("typing offers completions, and filters narrow the catalog: a category, then organic only", () =>
  withPage(shop.browser, DESKTOP, "filters", async (page) => {
    await page.goto(shop.origin);
    // The first Tab offers to skip the menu.
    await page.getByRole("navigation", { name: "Categories" }).getByRole("link").first().waitFor();
    await page.keyboard.press("Tab");
    assert.equal(await page.evaluate(() => document.activeElement?.textContent), "Skip to content");
    await page.getByRole("combobox", { name: "Search products" }).pressSequentially("alph");
    await page.locator("#suggestions option").first().waitFor({ state: "attached" });
    const offered = await page.locator("#suggestions option").evaluateAll((os) => os.map((o) => o.value));
    assert.ok(offered.some((t) => /alphonso/i.test(t)), `suggestions: ${offered}`);
    await page.getByRole("combobox", { name: "Search products" }).fill("");
    const count = page.getByText(/^\d+ products?/);
    await count.waitFor();
    const all = parseInt(await count.innerText(), 10);
    const category = page.getByLabel("Category");
    await category.locator("option", { hasText: /Mangoes/ }).waitFor({ state: "attached" });
    await category.selectOption({ label: (await category.locator("option", { hasText: /Mangoes/ }).innerText()).trim() });
    await page.waitForURL(/category=/);
    await page.getByText(/^\d+ products?$/).waitFor();
    const mangoes = parseInt(await page.getByText(/^\d+ products?$/).innerText(), 10);
    assert.ok(mangoes > 0 && mangoes < all, `${mangoes} mangoes of ${all} products`);
    const names = await page.getByRole("list", { name: "Products" }).getByRole("heading").allInnerTexts();
    assert.ok(names.every((n) => /mango/i.test(n)), `not all mangoes: ${names}`);

    // Top-level categories are one tap away.
    await page.goto(shop.origin);
    const chips = page.getByRole("navigation", { name: "Categories" });
    await chips.getByRole("link", { name: "Dry fruits & nuts" }).click();
    await page.waitForURL(/category=/);
    assert.equal(await chips.getByRole("link", { name: "Dry fruits & nuts" }).getAttribute("aria-current"), "page");
    await page.getByText(/^\d+ products?$/).waitFor();
    const dry = parseInt(await page.getByText(/^\d+ products?$/).innerText(), 10);
    assert.ok(dry > 0 && dry < all, `${dry} dry fruits of ${all} products`);

    await page.goto(shop.origin);
    await page.getByLabel("Organic only").check();
    await page.waitForURL(/organic=true/);
    await page.getByText(/^\d+ products?$/).waitFor();
    const cards = page.getByRole("list", { name: "Products" }).getByRole("listitem");
    const n = await cards.count();
    assert.ok(n > 0, "no organic products in the demo catalog");
    for (let i = 0; i < n; i++) assert.ok(await cards.nth(i).getByText("Organic", { exact: true }).isVisible());
    await screenshot(page, "filters-organic");
  }));

test("service errors read as sentences: field violations name the field, wrong passwords say so", () =>
  withPage(shop.browser, PHONE, "errors", async (page) => {
    await page.goto(`${shop.origin}/register`);
    await page.getByLabel("Name").fill("Ravi");
    await page.getByLabel("Email").fill("not-an-email");
    await page.getByLabel("Password").fill("short");
    await page.getByRole("button", { name: "Create account" }).click();
    const alert = page.getByRole("alert");
    await alert.waitFor();
    const text = await alert.innerText();
    assert.match(text, /Email: /);
    assert.doesNotMatch(text, /INVALID_ARGUMENT|invalid_argument|\[/);
    // The field itself is marked and described.
    assert.equal(await page.getByLabel("Email").getAttribute("aria-invalid"), "true");
    await screenshot(page, "errors-1-register");

    // By keyboard alone: a new page puts focus on its title (screen readers announce it),
    // the next Tab is the form's first field, and Enter sends it.
    await page.goto(`${shop.origin}/login`);
    await page.getByRole("heading", { name: "Sign in" }).waitFor();
    assert.equal(await page.evaluate(() => document.activeElement?.tagName), "H1");
    await page.keyboard.press("Tab");
    assert.equal(await page.evaluate(() => document.activeElement?.id), "email");
    await page.keyboard.type("nobody@example.com");
    await page.keyboard.press("Tab");
    await page.keyboard.type("wrong password");
    await page.keyboard.press("Enter");
    await page.getByRole("alert").waitFor();
    assert.match(await page.getByRole("alert").innerText(), /That email and password don't match/);
    await screenshot(page, "errors-2-login");
  }));

test("the address book: a bad PIN code is named at its field, addresses are saved and one is the default", () =>
  withPage(shop.browser, PHONE, "addresses", async (page) => {
    await page.goto(`${shop.origin}/register?next=/account/addresses`);
    await page.getByLabel("Name").fill("Kavya Iyer");
    await page.getByLabel("Email").fill(email("addresses"));
    await page.getByLabel("Password").fill("correct horse battery");
    await page.getByRole("button", { name: "Create account" }).click();
    await page.getByRole("heading", { name: "Your addresses" }).waitFor();
    await page.getByText("You have no saved addresses yet.").waitFor();

    async function add(line1, pin) {
      await page.getByRole("button", { name: "Add an address" }).click();
      await page.getByLabel("House and street").fill(line1);
      await page.getByLabel("City").fill("Chennai");
      await page.getByLabel("PIN code").fill(pin);
      await page.getByLabel("Phone").fill("+919812345678");
      await page.getByRole("button", { name: "Save address" }).click();
    }
    await add("4 Beach Road", "12");
    await page.getByRole("alert").waitFor();
    assert.match(await page.getByRole("alert").innerText(), /PIN code: must be/);
    assert.equal(await page.getByLabel("PIN code").getAttribute("aria-invalid"), "true");
    await screenshot(page, "addresses-1-bad-pin");
    await page.getByLabel("PIN code").fill("600001");
    await page.getByRole("button", { name: "Save address" }).click();
    const list = page.locator("ul.addresses");
    await list.getByText(/4 Beach Road/).waitFor();
    // The first address is the default.
    assert.ok(await list.getByRole("listitem").filter({ hasText: "4 Beach Road" }).getByText("Default", { exact: true }).isVisible());

    await add("9 Temple Street", "600004");
    const second = list.getByRole("listitem").filter({ hasText: "9 Temple Street" });
    await second.waitFor();
    await second.getByRole("button", { name: "Make default" }).click();
    await second.getByText("Default", { exact: true }).waitFor();
    assert.ok(await list.getByRole("listitem").filter({ hasText: "4 Beach Road" }).getByRole("button", { name: "Make default" }).isVisible());
    await screenshot(page, "addresses-2-default");
  }));

test("weight-priced produce: 1.5 kg is chosen on the product page, priced for that weight, and stepped by 250 g in the cart", () =>
  withPage(shop.browser, PHONE, "weight", async (page) => {
    await page.goto(`${shop.origin}/products/ooty-carrot`);
    await page.getByRole("heading", { level: 1, name: carrot.displayName }).waitFor();
    assert.match(await page.locator(".price.big").innerText(), /^₹90\.00 \/ kg/);
    await page.getByLabel("Quantity").selectOption({ label: "1.5 kg" });
    await page.getByRole("button", { name: "Add to cart" }).click();
    await page.getByRole("status").filter({ hasText: "Added 1.5 kg of" }).waitFor();
    await page.getByRole("link", { name: /^Cart,/ }).click();
    const line = page.getByRole("list", { name: "Items in your cart" }).getByRole("listitem");
    await line.getByText("1.5 kg").waitFor();
    assert.match(await line.locator(".line-total").innerText(), /^₹135\.00$/);
    await line.getByRole("button", { name: `More ${carrot.displayName}` }).click();
    await line.getByText("1.75 kg").waitFor();
    assert.match(await line.locator(".line-total").innerText(), /^₹157\.50$/);
    await screenshot(page, "weight-1-cart");
  }));

test("signing in merges what was added as a guest into the account's own cart", () =>
  withPage(shop.browser, PHONE, "merge", async (page) => {
    const address = email("merge");
    // An account with a carrot in its cart, then signed out.
    await page.goto(`${shop.origin}/register?next=/products/ooty-carrot`);
    await page.getByLabel("Name").fill("Imran Sheikh");
    await page.getByLabel("Email").fill(address);
    await page.getByLabel("Password").fill("correct horse battery");
    await page.getByRole("button", { name: "Create account" }).click();
    await page.getByRole("heading", { level: 1, name: carrot.displayName }).waitFor();
    await page.getByRole("button", { name: "Add to cart" }).click();
    await page.getByRole("link", { name: /^Cart, 1 item$/ }).waitFor();
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.getByRole("link", { name: /^Cart, 0 items$/ }).waitFor();

    // As a guest, a dozen mangoes.
    await page.goto(`${shop.origin}/products/alphonso-mango`);
    await page.getByRole("button", { name: "Add to cart" }).click();
    await page.getByRole("link", { name: /^Cart, 1 item$/ }).waitFor();
    assert.ok(await page.evaluate(() => localStorage.getItem("mandi.guestCartId")));

    // Signing in brings both together and forgets the guest cart.
    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Sign in" }).click();
    await page.getByLabel("Email").fill(address);
    await page.getByLabel("Password").fill("correct horse battery");
    await page.getByRole("button", { name: "Sign in" }).click();
    // Signed in, back where the shopper came from, with both lines.
    await page.waitForURL(/\/products\/alphonso-mango$/);
    await page.getByRole("link", { name: /^Cart, 2 items$/ }).waitFor();
    assert.equal(await page.evaluate(() => localStorage.getItem("mandi.guestCartId")), null);
    await page.getByRole("link", { name: /^Cart,/ }).click();
    const lines = page.getByRole("list", { name: "Items in your cart" });
    await lines.getByText(mango.displayName).waitFor();
    assert.ok(await lines.getByText(carrot.displayName).isVisible());
    await screenshot(page, "merge-1-cart");
  }));

test("a paid order can be cancelled from its page after one more question", () =>
  withPage(shop.browser, PHONE, "cancel", async (page) => {
    await searchAndAdd(page, "cancel");
    await registerFromCart(page, "cancel", { line1: "21 Brigade Road" });
    await payByCard(page, "5555 5555 5555 4444");
    await page.getByRole("heading", { name: "Thank you! Your order is placed" }).waitFor({ timeout: 30_000 });
    await page.getByRole("link", { name: "View your order" }).click();
    await page.getByRole("button", { name: "Cancel order" }).click();
    await page.getByText("Cancel this order? The payment goes back to your card.").waitFor();
    await screenshot(page, "cancel-1-question");
    await page.getByRole("button", { name: "Yes, cancel the order" }).click();
    await page.getByText("Cancelled: cancelled by the shopper").waitFor();
    assert.ok(await page.getByText("Cancelled", { exact: true }).isVisible());
    assert.equal(await page.getByRole("button", { name: "Cancel order" }).count(), 0);
    await page.getByText("This order was cancelled: nothing will be delivered.").waitFor();
    await screenshot(page, "cancel-2-cancelled");
  }));

test("an address outside every delivery zone is told so at the slots and when ordering", () =>
  withPage(shop.browser, PHONE, "unserviceable", async (page) => {
    await page.goto(`${shop.origin}/register?next=/products/ooty-carrot`);
    await page.getByLabel("Name").fill("Lakshmi Nair");
    await page.getByLabel("Email").fill(email("zone"));
    await page.getByLabel("Password").fill("correct horse battery");
    await page.getByRole("button", { name: "Create account" }).click();
    await page.getByRole("heading", { level: 1, name: carrot.displayName }).waitFor();
    await page.getByRole("button", { name: "Add to cart" }).click();
    await page.getByRole("link", { name: /^Cart, 1 item$/ }).waitFor();
    await page.goto(`${shop.origin}/checkout`);
    // Chennai: no demo delivery zone covers it.
    await page.getByLabel("House and street").fill("4 Beach Road");
    await page.getByLabel("City").fill("Chennai");
    await page.getByLabel("PIN code").fill("600001");
    await page.getByLabel("Phone").fill("+919812345678");
    await page.getByRole("button", { name: "Use this address" }).click();
    const slots = page.getByRole("group", { name: "Delivery slot" });
    await slots.getByText("We don't deliver to that address yet.").waitFor();
    assert.equal(await slots.getByRole("radio").count(), 0);

    await page.getByLabel("Card number").fill("4242424242424242");
    await page.getByLabel("Expiry (MM/YY)").fill("12/30");
    await page.getByRole("button", { name: "Place order" }).click();
    await page.getByRole("alert").waitFor();
    assert.match(await page.getByRole("alert").innerText(), /We don't deliver to that address yet/);
    await page.getByRole("link", { name: /^Cart, 1 item$/ }).waitFor();
    await screenshot(page, "unserviceable-1-checkout");
  }));

test("a signed-in shopper reviews a product once; the review shows on the product page", () =>
  withPage(shop.browser, PHONE, "review", async (page) => {
    await page.goto(`${shop.origin}/register?next=/products/ooty-carrot`);
    await page.getByLabel("Name").fill("Gita Menon");
    await page.getByLabel("Email").fill(email("review"));
    await page.getByLabel("Password").fill("correct horse battery");
    await page.getByRole("button", { name: "Create account" }).click();
    await page.getByRole("heading", { level: 1, name: carrot.displayName }).waitFor();
    await page.getByRole("heading", { name: "Reviews" }).waitFor();

    // No stars chosen: said before anything is sent.
    await page.getByRole("button", { name: "Post review" }).click();
    assert.match(await page.getByRole("alert").innerText(), /Choose how many stars to give/);
    await page.getByRole("radio", { name: "4 stars" }).check();
    await page.getByLabel("Headline (optional)").fill("Sweet and crunchy");
    await page.getByLabel("Your review (optional)").fill("Kept a week in the fridge.");
    await page.getByRole("button", { name: "Post review" }).click();
    const list = page.getByRole("list", { name: "Reviews" });
    await list.getByText("Sweet and crunchy").waitFor();
    assert.ok(await list.getByLabel("4 out of 5 stars").first().isVisible());
    // Signed by its author (the service's display name, else "You" for one's own).
    assert.match(await list.textContent(), /(Gita Menon|You) · /);

    // One review per shopper and product.
    await page.getByRole("radio", { name: "5 stars" }).check();
    await page.getByRole("button", { name: "Post review" }).click();
    await page.getByRole("alert").filter({ hasText: "You have already reviewed this product." }).waitFor();
    await screenshot(page, "review-1-posted");
  }));
