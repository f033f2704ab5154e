// Prices and quantities in a product's unit of sale: weight-priced units count grams,
// count-priced units count whole units (mandi.common.v1.UnitOfSale).
import { formatMoney } from "@mandi/sdk";
import { UnitOfSale } from "@mandi/sdk/gen/mandi/common/v1/common_pb";
import type { Money } from "@mandi/sdk/gen/mandi/common/v1/common_pb";
import type { Product } from "@mandi/sdk/gen/mandi/catalog/v1/catalog_pb";
import type { Timestamp } from "@bufbuild/protobuf/wkt";

export { formatMoney };

const PER: Record<number, string> = {
  [UnitOfSale.KILOGRAM]: "kg",
  [UnitOfSale.HUNDRED_GRAMS]: "100 g",
  [UnitOfSale.PIECE]: "piece",
  [UnitOfSale.BUNCH]: "bunch",
  [UnitOfSale.DOZEN]: "dozen",
};

export function isWeighed(unit: UnitOfSale): boolean {
  return unit === UnitOfSale.KILOGRAM || unit === UnitOfSale.HUNDRED_GRAMS;
}

/** "₹120.00 / kg" */
export function unitPrice(price: Money | undefined, unit: UnitOfSale): string {
  return `${formatMoney(price)} / ${PER[unit] ?? "unit"}`;
}

/** "1.5 kg", "250 g", "2 dozen", "1 piece" */
export function quantity(q: bigint | number, unit: UnitOfSale): string {
  const n = Number(q);
  if (isWeighed(unit)) return n >= 1000 ? `${+(n / 1000).toFixed(3)} kg` : `${n} g`;
  const word = PER[unit] ?? "unit";
  const plural = n === 1 || word === "dozen" ? word : word === "bunch" ? "bunches" : `${word}s`;
  return `${n} ${plural}`;
}

/** The quantities a shopper can pick: min, then steps, up to max (at most 12 choices). */
export function quantityChoices(p: Product): bigint[] {
  const step = p.quantityStep > 0n ? p.quantityStep : isWeighed(p.unitOfSale) ? 250n : 1n;
  const min = p.minQuantity > 0n ? p.minQuantity : step;
  const max = p.maxQuantity > 0n ? p.maxQuantity : min + step * 11n;
  const out: bigint[] = [];
  for (let q = min; q <= max && out.length < 12; q += step) out.push(q);
  return out;
}

export function date(ts: Timestamp | undefined, withTime = true): string {
  if (!ts) return "";
  const d = new Date(Number(ts.seconds) * 1000 + Math.floor(ts.nanos / 1e6));
  return d.toLocaleString("en-IN", withTime
    ? { dateStyle: "medium", timeStyle: "short" }
    : { dateStyle: "medium" });
}

/** "Jan 1, 10:00–12:00" for a delivery slot. */
export function slotWindow(start: Timestamp | undefined, end: Timestamp | undefined): string {
  if (!start || !end) return "";
  const s = new Date(Number(start.seconds) * 1000);
  const e = new Date(Number(end.seconds) * 1000);
  const day = s.toLocaleDateString("en-IN", { weekday: "short", day: "numeric", month: "short" });
  const t = (d: Date) => d.toLocaleTimeString("en-IN", { hour: "2-digit", minute: "2-digit" });
  return `${day}, ${t(s)}–${t(e)}`;
}

/** ENUM_PREFIX_SOME_VALUE -> "Some value" */
export function enumLabel(name: string | undefined): string {
  if (!name) return "";
  const s = name.toLowerCase().replace(/_/g, " ");
  return s.charAt(0).toUpperCase() + s.slice(1);
}
