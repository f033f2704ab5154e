// One product: price per kg or unit, origin, freshness (shelf life, storage, season),
// nutrition per 100 g, stock, and adding a chosen quantity to the cart.
import { useEffect, useState } from "preact/hooks";
import { StorageCondition, type Product } from "@mandi/sdk/gen/mandi/catalog/v1/catalog_pb";
import type { Availability } from "@mandi/sdk/gen/mandi/inventory/v1/inventory_pb";
import { mandi } from "../api";
import { shopError } from "../errors";
import { date, formatMoney, quantity, quantityChoices, unitPrice } from "../format";
import { useShop } from "../shop";
import { ErrorBox, Loading, PageTitle } from "../ui";
import { addToCart, categories } from "./catalog";
import { Reviews } from "./reviews";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A product by id, or by slug through search (as the CLI does). */
async function findProduct(idOrSlug: string): Promise<Product | null> {
  if (UUID.test(idOrSlug)) return (await mandi.catalog.getProduct({ productId: idOrSlug })).product ?? null;
  const slug = idOrSlug.toLowerCase();
  const r = await mandi.catalog.searchProducts({ query: slug.replace(/-/g, " "), pageSize: 50 });
  return r.products.find((p) => p.slug === slug) ?? null;
}

const STORAGE: Record<number, string> = {
  [StorageCondition.ROOM_TEMPERATURE]: "Keep at room temperature",
  [StorageCondition.CHILLED]: "Keep refrigerated",
  [StorageCondition.FROZEN]: "Keep frozen",
};
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

function grams(mg: number) {
  return `${+(mg / 1000).toFixed(1)} g`;
}

export function ProductPage({ idOrSlug }: { idOrSlug: string }) {
  const { setCart, notify } = useShop();
  const [product, setProduct] = useState<Product | null | undefined>(undefined);
  const [stock, setStock] = useState<Availability | null>(null);
  const [categoryName, setCategoryName] = useState("");
  const [qty, setQty] = useState<bigint>(0n);
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    findProduct(idOrSlug).then(
      (p) => {
        setProduct(p);
        if (!p) return;
        setQty(quantityChoices(p)[0] ?? 1n);
        mandi.inventory.getAvailability({ productId: p.id }).then(
          (r) => setStock(r.availability ?? null),
          () => setStock(null),
        );
        categories().then((cs) => setCategoryName(cs.find((c) => c.id === p.categoryId)?.displayName ?? ""), () => {});
      },
      (err) => {
        setProduct(null);
        setError(shopError(err).message);
      },
    );
  }, [idOrSlug]);

  if (product === undefined) return <Loading what="the product" />;
  if (product === null)
    return (
      <section>
        <PageTitle>Product not found</PageTitle>
        <ErrorBox message={error} />
        <p>
          This product is not on sale. <a href="/">Back to the shop</a>.
        </p>
      </section>
    );

  const p = product;
  async function add(e: Event) {
    e.preventDefault();
    setBusy(true);
    setError("");
    try {
      setCart(await addToCart(p.id, qty));
      notify(`Added ${quantity(qty, p.unitOfSale)} of ${p.displayName} to your cart.`);
    } catch (err) {
      setError(shopError(err).message);
    } finally {
      setBusy(false);
    }
  }
  const n = p.nutritionPer100g;
  return (
    <article class="product">
      <p class="crumbs">
        <a href="/">Shop</a>
        {categoryName && (
          <>
            {" › "}
            <a href={`/?category=${p.categoryId}`}>{categoryName}</a>
          </>
        )}
      </p>
      <PageTitle>{p.displayName}</PageTitle>
      <p class="price big">
        {unitPrice(p.price, p.unitOfSale)}
        {p.compareAtPrice && p.compareAtPrice.amountMinor > (p.price?.amountMinor ?? 0n) && (
          <>
            {" "}
            <s aria-label={`was ${formatMoney(p.compareAtPrice)}`}>{formatMoney(p.compareAtPrice)}</s>
          </>
        )}
      </p>
      <p class="badges">
        {p.organic && <span class="tag organic">Organic</span>}
        {p.inSeason && <span class="tag">In season</span>}
        {p.origin?.local && <span class="tag">Local</span>}
      </p>
      <p>{p.description}</p>
      <form class="buy" onSubmit={add}>
        <div class="field">
          <label for="qty">Quantity</label>
          <select id="qty" value={String(qty)} onChange={(e) => setQty(BigInt((e.target as HTMLSelectElement).value))}>
            {quantityChoices(p).map((q) => (
              <option value={String(q)} key={String(q)}>
                {quantity(q, p.unitOfSale)}
              </option>
            ))}
          </select>
        </div>
        <button type="submit" disabled={busy}>
          {busy ? "Adding…" : "Add to cart"}
        </button>
      </form>
      <ErrorBox message={error} />
      <p class="stock" role="status">
        {stock === null
          ? ""
          : !stock.inStock
            ? "Out of stock right now."
            : stock.lowStock
              ? `Only ${quantity(stock.availableQuantity, p.unitOfSale)} left.`
              : "In stock."}
      </p>
      <h2>Origin and freshness</h2>
      <dl class="facts">
        <dt>Origin</dt>
        <dd>{[p.origin?.region, p.origin?.countryCode].filter(Boolean).join(", ") || "Not stated"}</dd>
        {p.shelfLifeDays > 0 && (
          <>
            <dt>Stays fresh</dt>
            <dd>{p.shelfLifeDays} days after delivery</dd>
          </>
        )}
        {STORAGE[p.storageCondition] && (
          <>
            <dt>Storage</dt>
            <dd>{STORAGE[p.storageCondition]}</dd>
          </>
        )}
        {p.seasonMonths.length > 0 && (
          <>
            <dt>Season</dt>
            <dd>{p.seasonMonths.map((m) => MONTHS[m - 1]).join(", ")}</dd>
          </>
        )}
        {stock?.earliestExpireTime && (
          <>
            <dt>Current batch best before</dt>
            <dd>{date(stock.earliestExpireTime, false)}</dd>
          </>
        )}
      </dl>
      {n && (
        <>
          <h2>Nutrition per 100 g</h2>
          <table class="nutrition">
            <caption class="visually-hidden">Nutrition per 100 g of {p.displayName}</caption>
            <tbody>
              <tr><th scope="row">Energy</th><td>{n.energyKcal} kcal</td></tr>
              <tr><th scope="row">Protein</th><td>{grams(n.proteinMg)}</td></tr>
              <tr><th scope="row">Carbohydrate</th><td>{grams(n.carbohydrateMg)}</td></tr>
              <tr><th scope="row">of which sugars</th><td>{grams(n.sugarMg)}</td></tr>
              <tr><th scope="row">Fibre</th><td>{grams(n.fiberMg)}</td></tr>
              <tr><th scope="row">Fat</th><td>{grams(n.fatMg)}</td></tr>
              <tr><th scope="row">Sodium</th><td>{n.sodiumMg} mg</td></tr>
              <tr><th scope="row">Potassium</th><td>{n.potassiumMg} mg</td></tr>
              <tr><th scope="row">Vitamin C</th><td>{+(n.vitaminCUg / 1000).toFixed(1)} mg</td></tr>
            </tbody>
          </table>
        </>
      )}
      <Reviews product={p} />
    </article>
  );
}
