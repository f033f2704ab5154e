// Money is integer minor units (mandi.common.v1.Money); these helpers only format it.
import type { Money } from "./gen/mandi/common/v1/common_pb";

/** Formats Money in the currency's symbol and grouping (₹1,23,456.50 for INR in en-IN). */
export function formatMoney(money: Money | undefined, locale = "en-IN"): string {
  if (!money) return "";
  const code = money.currencyCode || "INR";
  const fmt = new Intl.NumberFormat(locale, { style: "currency", currency: code });
  const digits = fmt.resolvedOptions().maximumFractionDigits ?? 2;
  // Divide as integers first so large amounts keep every paisa.
  const scale = 10n ** BigInt(digits);
  const minor = BigInt(money.amountMinor);
  const sign = minor < 0n ? -1 : 1;
  const abs = minor < 0n ? -minor : minor;
  const value = Number(abs / scale) + Number(abs % scale) / Number(scale);
  return fmt.format(sign * value);
}
