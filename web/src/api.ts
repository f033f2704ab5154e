// The one SDK client of the storefront, on the page's own origin (the gateway serves the
// storefront and proxies grpc-web), and the guest cart id a shopper carries until sign-in.
import { createMandi, localSessionStore } from "@mandi/sdk";

const GUEST_CART_KEY = "mandi.guestCartId";

export const mandi = createMandi({
  baseUrl: location.origin,
  sessions: localSessionStore(),
  onSessionExpired: () => window.dispatchEvent(new CustomEvent("mandi:signed-out")),
});

/** The guest cart's id: the key to a guest's cart, returned by the first AddItem. */
export const guestCart = {
  get: (): string => localStorage.getItem(GUEST_CART_KEY) ?? "",
  set: (id: string) => localStorage.setItem(GUEST_CART_KEY, id),
  clear: () => localStorage.removeItem(GUEST_CART_KEY),
};

/** The cart id to pass: empty (the user's own cart) when signed in, else the guest's. */
export function cartId(): string {
  return mandi.signedIn() ? "" : guestCart.get();
}

/** A UUID for request_id; randomUUID needs a secure context, so fall back to getRandomValues. */
export function requestId(): string {
  if (typeof crypto.randomUUID === "function") return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
