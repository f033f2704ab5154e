// Checkout: address, delivery slot, payment, then the saga's live progress
// (StartCheckout, then the WatchCheckout stream) ending with the order or why it failed.
import { useEffect, useRef, useState } from "preact/hooks";
import { Code } from "@mandi/sdk";
import {
  CheckoutState,
  FailureReason,
  type Checkout,
} from "@mandi/sdk/gen/mandi/checkout/v1/checkout_pb";
import { FailureReason as PaymentFailure, PaymentMethod } from "@mandi/sdk/gen/mandi/payment/v1/payment_pb";
import type { Address } from "@mandi/sdk/gen/mandi/profile/v1/profile_pb";
import type { Cart } from "@mandi/sdk/gen/mandi/cart/v1/cart_pb";
import { StorageCondition } from "@mandi/sdk/gen/mandi/catalog/v1/catalog_pb";
import type { Money } from "@mandi/sdk/gen/mandi/common/v1/common_pb";
import type { DeliverySlot } from "@mandi/sdk/gen/mandi/shipping/v1/shipping_pb";
import { mandi, requestId } from "../api";
import { shopError } from "../errors";
import { formatMoney, isWeighed, slotWindow } from "../format";
import { navigate } from "../router";
import { useShop } from "../shop";
import { ErrorBox, Field, Loading, PageTitle } from "../ui";
import { AddressForm, addressLine, listAddresses } from "./addresses";

/** The saga's steps as the shopper sees them, in order. */
const STEPS: [CheckoutState, string][] = [
  [CheckoutState.PENDING, "Checking prices and your cart"],
  [CheckoutState.ORDER_CREATED, "Order created"],
  [CheckoutState.INVENTORY_RESERVED, "Items set aside for you"],
  [CheckoutState.SLOT_RESERVED, "Delivery slot booked"],
  [CheckoutState.PAYMENT_CONFIRMED, "Payment confirmed"],
  [CheckoutState.COMPLETED, "Order placed"],
];

const PAYMENT_WORDS: Record<number, string> = {
  [PaymentFailure.CARD_DECLINED]: "Your card was declined by your bank.",
  [PaymentFailure.INSUFFICIENT_FUNDS]: "Your card doesn't have enough funds.",
  [PaymentFailure.EXPIRED_CARD]: "Your card has expired.",
  [PaymentFailure.INVALID_CARD]: "That card number isn't valid.",
  [PaymentFailure.STOLEN_CARD]: "Your card was declined by your bank.",
  [PaymentFailure.GATEWAY_TIMEOUT]: "The payment service didn't answer in time.",
  [PaymentFailure.GATEWAY_ERROR]: "The payment service had a problem.",
};

/** Why a checkout failed, in the shopper's words. */
export function failureMessage(c: Checkout): string {
  const f = c.failure;
  switch (f?.reason) {
    case FailureReason.PAYMENT_DECLINED:
      return `${PAYMENT_WORDS[f.paymentFailureReason] ?? "Your card was declined."} You have not been charged. Try another card or pay cash on delivery.`;
    case FailureReason.PAYMENT_FAILED:
      return `${PAYMENT_WORDS[f.paymentFailureReason] ?? "We couldn't take the payment."} You have not been charged; please try again.`;
    case FailureReason.OUT_OF_STOCK:
      return "Some items in your cart are no longer in stock in the quantity you chose. Update your cart and try again.";
    case FailureReason.CART_EMPTY:
      return "Your cart is empty.";
    case FailureReason.PRODUCT_UNAVAILABLE:
      return "A product in your cart is no longer on sale. Remove it and try again.";
    case FailureReason.PRICE_CHANGED:
      return "Prices changed since you looked. Check your cart and try again.";
    case FailureReason.ADDRESS_UNSERVICEABLE:
      return "We don't deliver to that address yet. Choose another address.";
    case FailureReason.SLOT_UNAVAILABLE:
      return "That delivery slot filled up. Choose another slot.";
    case FailureReason.SERVICE_UNAVAILABLE:
      return "Part of the shop is not answering right now. Nothing was charged; please try again in a minute.";
    default:
      return "Your order could not be placed. Nothing was charged; please try again.";
  }
}

/** Follows a checkout to its end, reconnecting a dropped stream (the first message is always the current state). */
async function follow(id: string, onUpdate: (c: Checkout) => void, signal: AbortSignal): Promise<Checkout> {
  let last: Checkout | undefined;
  for (let attempt = 0; attempt < 4; attempt++) {
    try {
      for await (const m of mandi.checkout.watchCheckout({ checkoutId: id }, { signal })) {
        if (!m.checkout) continue;
        last = m.checkout;
        onUpdate(last);
        if (last.state === CheckoutState.COMPLETED || last.state === CheckoutState.FAILED) return last;
      }
      // The stream ended: read where the saga is.
      const c = (await mandi.checkout.getCheckout({ checkoutId: id })).checkout!;
      onUpdate(c);
      if (c.state === CheckoutState.COMPLETED || c.state === CheckoutState.FAILED) return c;
    } catch (err) {
      if (signal.aborted) throw err;
      const code = shopError(err).code;
      if (code !== Code.Unavailable && code !== Code.DeadlineExceeded && code !== Code.Unknown) throw err;
      await new Promise((r) => setTimeout(r, 500 * (attempt + 1)));
    }
  }
  if (last) return last;
  throw new Error("lost the checkout's progress");
}

function Progress({ checkout }: { checkout: Checkout }) {
  const reached = new Set(checkout.steps.map((s) => s.state));
  reached.add(checkout.state);
  const failed = checkout.state === CheckoutState.FAILED || checkout.state === CheckoutState.COMPENSATING;
  return (
    <ol class="progress" aria-label="Checkout progress">
      {STEPS.map(([state, label]) => {
        const done = reached.has(state);
        const current = checkout.state === state;
        return (
          <li key={state} class={done ? "done" : ""} aria-current={current ? "step" : undefined}>
            <span aria-hidden="true">{done ? "✓" : "○"}</span> {label}
            <span class="visually-hidden">{done ? " (done)" : " (waiting)"}</span>
          </li>
        );
      })}
      {failed && (
        <li class="failed">
          <span aria-hidden="true">✗</span> {checkout.state === CheckoutState.COMPENSATING ? "Undoing the order…" : "Order not placed"}
        </li>
      )}
    </ol>
  );
}

/** Delivery as shipping quotes it for this basket, address and slot. */
type Quote = { fee?: Money; freeAbove?: Money; serviceable: boolean } | null;

const COLD = new Set([StorageCondition.CHILLED, StorageCondition.FROZEN]);

/**
 * Asks shipping what delivery costs, weighing the basket as checkout does: grams for
 * weight-priced lines, the catalog's unit weight (else 500 g) for counted ones, and the
 * cold chain for chilled or frozen products. Only shown: checkout charges its own quote.
 */
function useQuote(address: Address | undefined, slotId: string, cart: Cart | null): Quote {
  const [quote, setQuote] = useState<Quote>(null);
  const key = `${address?.id}|${slotId}|${cart?.items.map((i) => `${i.productId}:${i.quantity}`).join(",")}`;
  useEffect(() => {
    const items = cart?.items ?? [];
    if (!address?.postalAddress || items.length === 0) {
      setQuote(null);
      return;
    }
    let live = true;
    (async () => {
      const { products } = await mandi.catalog.batchGetProducts({ productIds: items.map((i) => i.productId) });
      const byId = new Map(products.map((p) => [p.id, p]));
      let grams = 0n;
      let cold = false;
      for (const i of items) {
        const p = byId.get(i.productId);
        grams += isWeighed(i.unitOfSale) ? i.quantity : i.quantity * (p && p.unitWeightGrams > 0n ? p.unitWeightGrams : 500n);
        cold ||= p ? COLD.has(p.storageCondition) : false;
      }
      const r = await mandi.shipping.getShippingQuote({
        destination: address.postalAddress,
        weightGrams: grams > 0n ? grams : 1n,
        coldChain: cold,
        orderSubtotal: cart?.totals?.subtotal,
        slotId,
      });
      if (live) setQuote({ fee: r.fee, freeAbove: r.freeDeliveryThreshold, serviceable: r.serviceable });
    })().catch(() => live && setQuote(null));
    return () => {
      live = false;
    };
  }, [key]);
  return quote;
}

type SlotState = { kind: "loading" } | { kind: "ok"; slots: DeliverySlot[] } | { kind: "none"; message: string };

export function CheckoutPage() {
  const { cart, refreshCart, user } = useShop();
  const [addresses, setAddresses] = useState<Address[] | null>(null);
  const [addressId, setAddressId] = useState("");
  const [slots, setSlots] = useState<SlotState>({ kind: "loading" });
  const [slotId, setSlotId] = useState("");
  const [method, setMethod] = useState<PaymentMethod>(PaymentMethod.CARD);
  const [card, setCard] = useState("");
  const [expiry, setExpiry] = useState("");
  const [fields, setFields] = useState<Record<string, string>>({});
  const [error, setError] = useState("");
  const [checkout, setCheckout] = useState<Checkout | null>(null);
  const [busy, setBusy] = useState(false);
  const abort = useRef<AbortController | null>(null);

  useEffect(() => {
    if (!mandi.signedIn()) {
      navigate("/login?next=/checkout", true);
      return;
    }
    void refreshCart();
    listAddresses().then(
      (list) => {
        setAddresses(list);
        setAddressId((list.find((a) => a.isDefault) ?? list[0])?.id ?? "");
      },
      (err) => {
        setAddresses([]);
        setError(shopError(err).message);
      },
    );
    return () => abort.current?.abort();
  }, [user]);

  const address = addresses?.find((a) => a.id === addressId);
  const quote = useQuote(address, slotId, cart);
  useEffect(() => {
    if (!address?.postalAddress) return;
    setSlots({ kind: "loading" });
    setSlotId("");
    mandi.shipping.listDeliverySlots({ destination: address.postalAddress, pageSize: 12 }).then(
      (r) => {
        setSlots({ kind: "ok", slots: r.slots });
        setSlotId(r.slots.find((s) => s.available)?.id ?? "");
      },
      (err) => {
        const s = shopError(err);
        // Until shipping is served, checkout books no slot: say so instead of failing.
        const unserved = s.code === Code.Unimplemented || (s.code === Code.NotFound && !s.reason);
        setSlots({
          kind: "none",
          message: unserved
            ? "Choosing a delivery slot isn't available yet. We'll deliver in the next free slot."
            : s.message,
        });
      },
    );
  }, [addressId, addresses]);

  function parseExpiry(): [number, number] | null {
    const m = expiry.trim().match(/^(\d{1,2})\s*\/\s*(\d{2}|\d{4})$/);
    if (!m) return null;
    const month = Number(m[1]);
    const year = m[2].length === 2 ? 2000 + Number(m[2]) : Number(m[2]);
    return month >= 1 && month <= 12 ? [month, year] : null;
  }

  async function place(e: Event) {
    e.preventDefault();
    setError("");
    setFields({});
    const bad: Record<string, string> = {};
    const exp = parseExpiry();
    const digits = card.replace(/\D/g, "");
    if (method === PaymentMethod.CARD) {
      if (digits.length < 12) bad["card.token"] = "Enter the card number.";
      if (!exp) bad["card.exp"] = "Enter the expiry as MM/YY.";
    }
    if (!addressId) bad.address = "Choose or add a delivery address.";
    if (Object.keys(bad).length) {
      setFields(bad);
      setError("Some details need fixing. Check the highlighted fields.");
      return;
    }
    setBusy(true);
    abort.current = new AbortController();
    try {
      const started = await mandi.checkout.startCheckout({
        destination: { case: "addressId", value: addressId },
        deliverySlotId: slotId,
        paymentMethod: method,
        card: method === PaymentMethod.CARD && exp ? { token: digits, expMonth: exp[0], expYear: exp[1] } : undefined,
        expectedTotal: undefined,
        requestId: requestId(),
      });
      setCheckout(started.checkout ?? null);
      const done = await follow(started.checkout!.id, setCheckout, abort.current.signal);
      setCheckout(done);
      if (done.state === CheckoutState.COMPLETED) await refreshCart();
      else setError(failureMessage(done));
    } catch (err) {
      const s = shopError(err);
      setError(s.message);
      // The service names the saved address by its field; the form shows it at the list.
      setFields({ ...s.fields, address: s.fields.address_id ?? "" });
    } finally {
      setBusy(false);
    }
  }

  if (checkout && (busy || checkout.state === CheckoutState.COMPLETED)) {
    const completed = checkout.state === CheckoutState.COMPLETED;
    return (
      <section>
        <PageTitle>{completed ? "Thank you! Your order is placed" : "Placing your order…"}</PageTitle>
        <div aria-live="polite">
          <Progress checkout={checkout} />
        </div>
        {completed && (
          <>
            <p>
              {checkout.cardLast4
                ? `We've charged ${formatMoney(checkout.totals?.total)} to the card ending ${checkout.cardLast4}.`
                : `You'll pay ${formatMoney(checkout.totals?.total)} in cash on delivery.`}
            </p>
            <p>
              <a class="button" href={`/orders/${checkout.orderId}`}>
                View your order
              </a>
            </p>
          </>
        )}
      </section>
    );
  }

  const items = cart?.items ?? [];
  return (
    <section>
      <PageTitle>Checkout</PageTitle>
      {checkout?.state === CheckoutState.FAILED && <Progress checkout={checkout} />}
      <ErrorBox message={error} />
      {items.length === 0 && !checkout ? (
        <p>
          Your cart is empty. <a href="/">Browse fresh produce</a>.
        </p>
      ) : (
        <form onSubmit={place} noValidate>
          <fieldset>
            <legend>Delivery address</legend>
            {addresses === null ? (
              <Loading what="your addresses" />
            ) : (
              <>
                {addresses.map((a) => (
                  <label class="check" key={a.id}>
                    <input type="radio" name="address" value={a.id} checked={a.id === addressId} onChange={() => setAddressId(a.id)} />
                    {addressLine(a)}
                  </label>
                ))}
                {fields.address && <p class="field-error">{fields.address}</p>}
                <details open={addresses.length === 0}>
                  <summary>Add a new address</summary>
                  <AddressForm
                    submitLabel="Use this address"
                    onSaved={(a) => {
                      setAddresses([...(addresses ?? []), a]);
                      setAddressId(a.id);
                    }}
                  />
                </details>
              </>
            )}
          </fieldset>
          <fieldset>
            <legend>Delivery slot</legend>
            {!address ? (
              <p class="meta">Choose an address to see delivery slots.</p>
            ) : slots.kind === "loading" ? (
              <Loading what="delivery slots" />
            ) : slots.kind === "none" ? (
              <p class="notice-inline" role="status">
                {slots.message}
              </p>
            ) : slots.slots.length === 0 ? (
              <p role="status">No delivery slots in the next days. We'll deliver in the next free slot.</p>
            ) : (
              slots.slots.map((s) => (
                <label class={`check${s.available ? "" : " disabled"}`} key={s.id}>
                  <input type="radio" name="slot" value={s.id} checked={s.id === slotId} disabled={!s.available} onChange={() => setSlotId(s.id)} />
                  {slotWindow(s.startTime, s.endTime)}
                  {s.surcharge && s.surcharge.amountMinor > 0n ? ` (+${formatMoney(s.surcharge)})` : ""}
                  {s.available ? "" : " — full"}
                </label>
              ))
            )}
          </fieldset>
          <fieldset>
            <legend>Payment</legend>
            <label class="check">
              <input type="radio" name="method" checked={method === PaymentMethod.CARD} onChange={() => setMethod(PaymentMethod.CARD)} />
              Card
            </label>
            <label class="check">
              <input type="radio" name="method" checked={method === PaymentMethod.CASH_ON_DELIVERY} onChange={() => setMethod(PaymentMethod.CASH_ON_DELIVERY)} />
              Cash on delivery
            </label>
            {method === PaymentMethod.CARD && (
              <div class="card-fields">
                <Field id="card-number" label="Card number" inputMode="numeric" autoComplete="cc-number" value={card} onInput={setCard} error={fields["card.token"]} />
                <Field id="card-expiry" label="Expiry (MM/YY)" inputMode="numeric" autoComplete="cc-exp" placeholder="12/30" value={expiry} onInput={setExpiry} error={fields["card.exp"] ?? fields["card.exp_month"] ?? fields["card.exp_year"]} />
              </div>
            )}
          </fieldset>
          <dl class="totals">
            <dt>Items</dt>
            <dd>{formatMoney(cart?.totals?.subtotal)}</dd>
            <dt>Tax</dt>
            <dd>{formatMoney(cart?.totals?.tax)}</dd>
            {quote?.fee ? (
              <>
                <dt>Delivery</dt>
                <dd>{quote.fee.amountMinor === 0n ? "Free" : formatMoney(quote.fee)}</dd>
                <dt>Total</dt>
                <dd class="total">
                  {formatMoney({
                    $typeName: "mandi.common.v1.Money",
                    currencyCode: quote.fee.currencyCode,
                    amountMinor: (cart?.totals?.total?.amountMinor ?? 0n) + quote.fee.amountMinor,
                  })}
                </dd>
              </>
            ) : (
              <>
                <dt>Total before delivery</dt>
                <dd class="total">{formatMoney(cart?.totals?.total)}</dd>
              </>
            )}
          </dl>
          {quote?.serviceable === false && <p class="warn">We don't deliver to this address yet. Choose another address.</p>}
          {quote?.freeAbove && quote.fee && quote.fee.amountMinor > 0n && (
            <p class="meta">Free delivery on orders over {formatMoney(quote.freeAbove)}.</p>
          )}
          <button type="submit" disabled={busy || items.length === 0}>
            {busy ? "Placing your order…" : "Place order"}
          </button>
        </form>
      )}
    </section>
  );
}
