// The cart: lines in the product's unit, price and stock notes, totals with tax, and the
// way to checkout (signing in first, which merges a guest cart).
import { useEffect, useState } from "preact/hooks";
import type { CartItem } from "@mandi/sdk/gen/mandi/cart/v1/cart_pb";
import { cartId, mandi, requestId } from "../api";
import { shopError } from "../errors";
import { formatMoney, isWeighed, quantity, unitPrice } from "../format";
import { navigate } from "../router";
import { useShop } from "../shop";
import { ErrorBox, PageTitle } from "../ui";

function note(item: CartItem): string {
  const c = item.check;
  if (!c) return "";
  if (c.unavailable) return "No longer on sale: remove it to check out.";
  if (c.stockShort) return `Only ${quantity(c.availableQuantity, item.unitOfSale)} in stock.`;
  if (c.priceChanged) return `Price changed to ${unitPrice(c.currentUnitPrice, item.unitOfSale)}.`;
  return "";
}

function Line({ item }: { item: CartItem }) {
  const { setCart } = useShop();
  const [error, setError] = useState("");
  const step = isWeighed(item.unitOfSale) ? 250n : 1n;
  async function change(q: bigint) {
    setError("");
    try {
      const r =
        q <= 0n
          ? await mandi.cart.removeItem({ cartId: cartId(), productId: item.productId, requestId: requestId() })
          : await mandi.cart.updateItemQuantity({ cartId: cartId(), productId: item.productId, quantity: q, requestId: requestId() });
      setCart(r.cart ?? null);
    } catch (err) {
      setError(shopError(err).message);
    }
  }
  const warn = note(item);
  return (
    <li class="line">
      <div class="line-main">
        <a href={`/products/${item.productId}`}>{item.productDisplayName}</a>
        <span class="meta">{unitPrice(item.unitPrice, item.unitOfSale)}</span>
      </div>
      <div class="qty" role="group" aria-label={`Quantity of ${item.productDisplayName}`}>
        <button type="button" onClick={() => change(item.quantity - step)} aria-label={`Less ${item.productDisplayName}`}>
          −
        </button>
        <output aria-live="polite">{quantity(item.quantity, item.unitOfSale)}</output>
        <button type="button" onClick={() => change(item.quantity + step)} aria-label={`More ${item.productDisplayName}`}>
          +
        </button>
      </div>
      <span class="line-total">{formatMoney(item.lineTotal)}</span>
      <button type="button" class="link" onClick={() => change(0n)} aria-label={`Remove ${item.productDisplayName}`}>
        Remove
      </button>
      {warn && <p class="warn">{warn}</p>}
      <ErrorBox message={error} />
    </li>
  );
}

export function CartPage() {
  const { cart, user, refreshCart } = useShop();
  useEffect(() => {
    void refreshCart();
  }, []);
  const items = cart?.items ?? [];
  const t = cart?.totals;
  return (
    <section>
      <PageTitle>Your cart</PageTitle>
      {items.length === 0 ? (
        <p>
          Your cart is empty. <a href="/">Browse fresh produce</a>.
        </p>
      ) : (
        <>
          <ul class="lines" aria-label="Items in your cart">
            {items.map((i) => (
              <Line item={i} key={i.productId} />
            ))}
          </ul>
          {cart && !cart.verified && (
            <p class="warn">We couldn't check every price and stock level just now; they are checked again at checkout.</p>
          )}
          <dl class="totals">
            <dt>Subtotal</dt>
            <dd>{formatMoney(t?.subtotal)}</dd>
            <dt>Tax</dt>
            <dd>{formatMoney(t?.tax)}</dd>
            <dt>Total</dt>
            <dd class="total">{formatMoney(t?.total)}</dd>
          </dl>
          <p class="meta">Delivery is added at checkout.</p>
          <button type="button" onClick={() => navigate(user ? "/checkout" : "/login?next=/checkout")}>
            {user ? "Checkout" : "Sign in to checkout"}
          </button>
        </>
      )}
    </section>
  );
}
