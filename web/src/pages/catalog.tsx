// Browse and search: a query, filters (category, organic, local, in season, price),
// sorting, facet counts, and "show more" paging with the service's page tokens.
import { useEffect, useState } from "preact/hooks";
import { create } from "@bufbuild/protobuf";
import { MoneySchema } from "@mandi/sdk/gen/mandi/common/v1/common_pb";
import {
  FacetField,
  ProductSortOrder,
  type Category,
  type Facet,
  type Product,
} from "@mandi/sdk/gen/mandi/catalog/v1/catalog_pb";
import { cartId, guestCart, mandi, requestId } from "../api";
import { shopError } from "../errors";
import { isWeighed, quantity, unitPrice } from "../format";
import { navigate } from "../router";
import { useShop } from "../shop";
import { ErrorBox, Loading } from "../ui";

let categoriesCache: Category[] | null = null;

export async function categories(): Promise<Category[]> {
  if (categoriesCache) return categoriesCache;
  const out: Category[] = [];
  let pageToken = "";
  do {
    const r = await mandi.catalog.listCategories({ pageSize: 200, pageToken });
    out.push(...r.categories);
    pageToken = r.nextPageToken;
  } while (pageToken);
  categoriesCache = out;
  return out;
}

const SORTS: [string, ProductSortOrder][] = [
  ["Best match", ProductSortOrder.RELEVANCE],
  ["Price: low to high", ProductSortOrder.PRICE_ASCENDING],
  ["Price: high to low", ProductSortOrder.PRICE_DESCENDING],
  ["Newest", ProductSortOrder.NEWEST],
  ["Top rated", ProductSortOrder.RATING],
];

/** Adds a product's smallest quantity to the cart, keeping a new guest cart's id. */
export async function addToCart(productId: string, quantity: bigint) {
  const r = await mandi.cart.addItem({ cartId: cartId(), productId, quantity, requestId: requestId() });
  if (!mandi.signedIn() && r.cart) guestCart.set(r.cart.id);
  return r.cart ?? null;
}

export function ProductCard({ p, categoryName }: { p: Product; categoryName?: string }) {
  const { setCart, notify } = useShop();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState("");
  const min = p.minQuantity > 0n ? p.minQuantity : isWeighed(p.unitOfSale) ? 500n : 1n;
  async function add() {
    setBusy(true);
    setError("");
    try {
      setCart(await addToCart(p.id, min));
      notify(`Added ${quantity(min, p.unitOfSale)} of ${p.displayName} to your cart.`);
    } catch (err) {
      setError(shopError(err).message);
    } finally {
      setBusy(false);
    }
  }
  const headingId = `p-${p.id}`;
  return (
    <li class="card" aria-labelledby={headingId}>
      <div class="tile" aria-hidden="true">
        {p.displayName.charAt(0)}
      </div>
      <h2 id={headingId}>
        <a href={`/products/${p.slug || p.id}`}>{p.displayName}</a>
      </h2>
      <p class="price">{unitPrice(p.price, p.unitOfSale)}</p>
      <p class="meta">
        {[categoryName, p.origin?.region, p.origin?.countryCode].filter(Boolean).join(" · ")}
      </p>
      <p class="badges">
        {p.organic && <span class="tag organic">Organic</span>}
        {p.inSeason && <span class="tag">In season</span>}
        {p.origin?.local && <span class="tag">Local</span>}
      </p>
      <button type="button" onClick={add} disabled={busy} aria-label={`Add ${p.displayName} to cart`}>
        {busy ? "Adding…" : "Add to cart"}
      </button>
      <ErrorBox message={error} />
    </li>
  );
}

function triState(v: string | null): boolean | undefined {
  return v === "true" ? true : v === "false" ? false : undefined;
}

export function Catalog({ url }: { url: URL }) {
  const params = url.searchParams;
  const q = params.get("q") ?? "";
  const category = params.get("category") ?? "";
  const organic = triState(params.get("organic"));
  const local = triState(params.get("local"));
  const inSeason = triState(params.get("season"));
  const inStock = triState(params.get("stock"));
  const maxPrice = params.get("max") ?? "";
  const sort = Number(params.get("sort") ?? ProductSortOrder.RELEVANCE);

  const [query, setQuery] = useState(q);
  const [suggestions, setSuggestions] = useState<string[]>([]);
  const [cats, setCats] = useState<Category[]>([]);
  const [products, setProducts] = useState<Product[]>([]);
  const [facets, setFacets] = useState<Facet[]>([]);
  const [total, setTotal] = useState(0n);
  const [next, setNext] = useState("");
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState("");

  useEffect(() => {
    categories().then(setCats, (err) => setError(shopError(err).message));
  }, []);

  function request(pageToken: string) {
    const max = Math.round(Number(maxPrice) * 100);
    return {
      query: q,
      filter: {
        categoryId: category,
        organic,
        local,
        inSeason,
        inStock,
        maxPrice: maxPrice && max > 0 ? create(MoneySchema, { currencyCode: "INR", amountMinor: BigInt(max) }) : undefined,
      },
      sortOrder: sort,
      facets: [FacetField.CATEGORY, FacetField.ORGANIC],
      pageSize: 24,
      pageToken,
    };
  }

  useEffect(() => {
    setQuery(q);
    setLoading(true);
    setError("");
    mandi.catalog
      .searchProducts(request(""))
      .then((r) => {
        setProducts(r.products);
        setFacets(r.facets);
        setTotal(r.totalSize);
        setNext(r.nextPageToken);
      })
      .catch((err) => {
        setProducts([]);
        setError(shopError(err).message);
      })
      .finally(() => setLoading(false));
  }, [url.search]);

  // Completions as the shopper types, offered through a native datalist (announced by
  // screen readers, no custom widget to get wrong).
  useEffect(() => {
    const prefix = query.trim();
    if (prefix.length < 2 || prefix === q) {
      setSuggestions([]);
      return;
    }
    const timer = setTimeout(() => {
      mandi.catalog.suggestProducts({ prefix, maxSuggestions: 6 }).then(
        (r) => setSuggestions(r.suggestions.map((x) => x.text)),
        () => setSuggestions([]),
      );
    }, 150);
    return () => clearTimeout(timer);
  }, [query]);

  async function more() {
    try {
      const r = await mandi.catalog.searchProducts(request(next));
      setProducts([...products, ...r.products]);
      setNext(r.nextPageToken);
    } catch (err) {
      setError(shopError(err).message);
    }
  }

  function apply(change: Record<string, string>) {
    const p = new URLSearchParams(url.search);
    for (const [k, v] of Object.entries(change)) {
      if (v) p.set(k, v);
      else p.delete(k);
    }
    navigate(`/?${p.toString()}`, true);
  }

  const catName = (id: string) => cats.find((c) => c.id === id)?.displayName;
  const catCount = (id: string) =>
    facets.find((f) => f.field === FacetField.CATEGORY)?.buckets.find((b) => b.value === id)?.count;

  return (
    <section>
      <h1 class="visually-hidden">Shop fresh produce</h1>
      <form
        role="search"
        class="search"
        onSubmit={(e) => {
          e.preventDefault();
          apply({ q: query.trim() });
        }}
      >
        <label for="q" class="visually-hidden">
          Search products
        </label>
        <input
          id="q"
          type="search"
          placeholder="Search mangoes, spinach, almonds…"
          value={query}
          list="suggestions"
          autoComplete="off"
          onInput={(e) => setQuery((e.target as HTMLInputElement).value)}
        />
        <datalist id="suggestions">
          {suggestions.map((text) => (
            <option value={text} key={text} />
          ))}
        </datalist>
        <button type="submit">Search</button>
      </form>
      <nav aria-label="Categories" class="chips">
        <ul>
          {cats
            .filter((c) => !c.parentId)
            .map((c) => (
              <li key={c.id}>
                <a href={`/?category=${c.id}`} aria-current={c.id === category ? "page" : undefined}>
                  {c.displayName}
                </a>
              </li>
            ))}
        </ul>
      </nav>
      <details class="filters" open={window.innerWidth > 700}>
        <summary>Filters and sorting</summary>
        <fieldset>
          <legend class="visually-hidden">Filters</legend>
          <div class="field">
            <label for="category">Category</label>
            <select id="category" value={category} onChange={(e) => apply({ category: (e.target as HTMLSelectElement).value })}>
              <option value="">All categories</option>
              {cats.map((c) => (
                <option value={c.id} key={c.id}>
                  {c.parentId ? "— " : ""}
                  {c.displayName}
                  {catCount(c.id) !== undefined ? ` (${catCount(c.id)})` : ""}
                </option>
              ))}
            </select>
          </div>
          <label class="check">
            <input type="checkbox" checked={organic === true} onChange={(e) => apply({ organic: (e.target as HTMLInputElement).checked ? "true" : "" })} />
            Organic only
          </label>
          <label class="check">
            <input type="checkbox" checked={local === true} onChange={(e) => apply({ local: (e.target as HTMLInputElement).checked ? "true" : "" })} />
            Local farms
          </label>
          <label class="check">
            <input type="checkbox" checked={inStock === true} onChange={(e) => apply({ stock: (e.target as HTMLInputElement).checked ? "true" : "" })} />
            In stock only
          </label>
          <label class="check">
            <input type="checkbox" checked={inSeason === true} onChange={(e) => apply({ season: (e.target as HTMLInputElement).checked ? "true" : "" })} />
            In season
          </label>
          <div class="field">
            <label for="max">Max price per unit (₹)</label>
            <input id="max" type="number" min="0" inputMode="numeric" value={maxPrice} onChange={(e) => apply({ max: (e.target as HTMLInputElement).value })} />
          </div>
          <div class="field">
            <label for="sort">Sort by</label>
            <select id="sort" value={String(sort)} onChange={(e) => apply({ sort: (e.target as HTMLSelectElement).value })}>
              {SORTS.map(([label, v]) => (
                <option value={String(v)} key={v}>
                  {label}
                </option>
              ))}
            </select>
          </div>
        </fieldset>
      </details>
      <ErrorBox message={error} />
      {loading ? (
        <Loading what="products" />
      ) : error && products.length === 0 ? null : (
        <>
          <p role="status" class="count">
            {total === 0n
              ? q
                ? `No products match “${q}”. Try another word or fewer filters.`
                : "No products match these filters."
              : `${total} ${total === 1n ? "product" : "products"}${q ? ` for “${q}”` : ""}`}
          </p>
          <ul class="grid" aria-label="Products">
            {products.map((p) => (
              <ProductCard p={p} key={p.id} categoryName={catName(p.categoryId)} />
            ))}
          </ul>
          {next && (
            <button type="button" class="secondary" onClick={more}>
              Show more products
            </button>
          )}
        </>
      )}
    </section>
  );
}
