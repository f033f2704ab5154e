// Service errors in words a shopper understands: gRPC codes, ErrorInfo reasons and
// BadRequest field violations become sentences; the raw message stays in the console.
import { Code, callError } from "@mandi/sdk";

/** A shopper-facing error: one sentence, plus what is wrong with each named field. */
export interface ShopError {
  message: string;
  fields: Record<string, string>;
  reason: string;
  code: Code;
}

// What a failed rule means, by ErrorInfo reason, for the ones a shopper can meet.
const REASONS: Record<string, string> = {
  BAD_CREDENTIALS: "That email and password don't match. Check them and try again.",
  EMAIL_TAKEN: "An account with this email already exists. Sign in instead.",
  LOGIN_THROTTLED: "Too many sign-in attempts. Please wait a few minutes and try again.",
  BAD_REFRESH_TOKEN: "Your session has ended. Please sign in again.",
  REFRESH_TOKEN_REUSED: "Your session has ended. Please sign in again.",
  INSUFFICIENT_STOCK: "We don't have that much in stock right now. Try a smaller quantity.",
  OUT_OF_STOCK: "Some items in your cart are no longer in stock in the quantity you chose.",
  PRODUCT_NOT_FOUND: "That product is no longer on sale.",
  PRODUCT_UNAVAILABLE: "A product in your cart is no longer on sale. Remove it and try again.",
  CART_NOT_FOUND: "Your cart has expired. Add your items again.",
  CART_EMPTY: "Your cart is empty. Add something before checking out.",
  CART_CONTENDED: "Your cart changed in another tab. Please try again.",
  CONCURRENT_CHANGE: "That changed while you were editing. Please try again.",
  TOO_MANY_ADDRESSES: "You have saved the maximum number of addresses. Delete one to add another.",
  PAYMENT_DECLINED: "Your card was declined. Try another card or pay cash on delivery.",
  PAYMENT_FAILED: "We couldn't process the payment. You have not been charged; please try again.",
  PRICE_CHANGED: "Prices changed since you looked. Check your cart and try again.",
  SLOT_UNAVAILABLE: "That delivery slot is no longer available. Choose another one.",
  UNSERVICEABLE_ADDRESS: "We don't deliver to that address yet.",
  CATALOG_UNAVAILABLE: "We can't check prices right now. Please try again in a moment.",
};

// Field paths the services name, in the words of the form.
const FIELD_LABELS: Record<string, string> = {
  email: "Email",
  password: "Password",
  name: "Name",
  query: "Search",
  quantity: "Quantity",
  "card.token": "Card number",
  "card.exp_month": "Expiry month",
  "card.exp_year": "Expiry year",
  // The address form's words (profile names them under address.postal_address.*).
  postal_code: "PIN code",
  line1: "House and street",
  line2: "Apartment, landmark",
  recipient_name: "Recipient name",
  recipient_phone: "Phone",
  delivery_instructions: "Instructions for the rider",
  address_id: "Delivery address",
  delivery_slot_id: "Delivery slot",
};

export function fieldLabel(field: string): string {
  if (FIELD_LABELS[field]) return FIELD_LABELS[field];
  const last = field.split(".").pop() ?? field;
  if (FIELD_LABELS[last]) return FIELD_LABELS[last];
  const words = last.replace(/_/g, " ");
  return words.charAt(0).toUpperCase() + words.slice(1);
}

function byCode(code: Code, retryAfterMs?: number): string {
  switch (code) {
    case Code.Unauthenticated:
      return "Please sign in to continue.";
    case Code.PermissionDenied:
      return "You don't have access to that.";
    case Code.NotFound:
      return "We couldn't find that. It may have been removed.";
    case Code.AlreadyExists:
      return "That already exists.";
    case Code.InvalidArgument:
      return "Some details need fixing. Check the highlighted fields.";
    case Code.FailedPrecondition:
      return "That can't be done right now.";
    case Code.ResourceExhausted:
      return retryAfterMs
        ? `You're going a bit fast. Please wait ${Math.ceil(retryAfterMs / 1000)} seconds and try again.`
        : "You're going a bit fast. Please wait a moment and try again.";
    case Code.DeadlineExceeded:
      return "The shop took too long to answer. Please try again.";
    case Code.Unavailable:
      return "We can't reach the shop right now. Check your connection and try again.";
    case Code.Unimplemented:
      return "This part of the shop isn't available yet.";
    case Code.Aborted:
      return "Something changed at the same time. Please try again.";
    default:
      return "Something went wrong on our side. Please try again in a moment.";
  }
}

/** Turns anything a call threw into a ShopError. */
export function shopError(err: unknown): ShopError {
  const e = callError(err);
  console.warn("mandi call failed:", e.code, e.reason, e.message, e.fields);
  const fields: Record<string, string> = {};
  for (const v of e.fields) {
    const d = v.description;
    fields[v.field] = d.charAt(0).toUpperCase() + d.slice(1);
  }
  // A fetch that never reached a server surfaces as UNKNOWN from the transport.
  const unreachable = e.code === Code.Unknown && /fetch|network|load failed/i.test(e.message);
  let message = REASONS[e.reason] ?? byCode(unreachable ? Code.Unavailable : e.code, e.retryAfterMs);
  if (e.code === Code.InvalidArgument && e.fields.length > 0) {
    message = e.fields
      .map((v) => `${fieldLabel(v.field)}: ${v.description}`)
      .join(". ")
      .concat(".");
  }
  return { message, fields, reason: e.reason, code: e.code };
}
