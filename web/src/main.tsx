// The storefront: one page shell, a router over real paths, and the pages.
import { render } from "preact";
import { useEffect } from "preact/hooks";
import { Addresses } from "./pages/addresses";
import { Login, Register } from "./pages/auth";
import { CartPage } from "./pages/cart";
import { Catalog } from "./pages/catalog";
import { CheckoutPage } from "./pages/checkout";
import { OrderPage, Orders } from "./pages/orders";
import { ProductPage } from "./pages/product";
import { onLinkClick, useLocation } from "./router";
import { ShopProvider, useShop } from "./shop";
import "./style.css";

function Header() {
  const { user, cart, signOut } = useShop();
  const url = useLocation();
  // Signing in brings the shopper back to the page they were on.
  const here = url.pathname === "/login" || url.pathname === "/register" ? "/" : url.pathname + url.search;
  const count = cart?.itemCount ?? 0;
  return (
    <header class="top">
      <a class="skip" href="#main">
        Skip to content
      </a>
      <a class="brand" href="/">
        mandi
      </a>
      <nav aria-label="Main">
        <ul>
          <li>
            <a href="/">Shop</a>
          </li>
          <li>
            <a href="/cart" aria-label={`Cart, ${count} ${count === 1 ? "item" : "items"}`}>
              Cart <span class="badge">{count}</span>
            </a>
          </li>
          {user ? (
            <>
              <li>
                <a href="/orders">Orders</a>
              </li>
              <li>
                <a href="/account/addresses">Addresses</a>
              </li>
              <li>
                <button type="button" class="link" onClick={() => void signOut()}>
                  Sign out
                </button>
              </li>
            </>
          ) : (
            <li>
              <a href={`/login?next=${encodeURIComponent(here)}`}>Sign in</a>
            </li>
          )}
        </ul>
      </nav>
    </header>
  );
}

function Routes() {
  const url = useLocation();
  const path = url.pathname;
  const { notify } = useShop();
  // A notice belongs to the page it was given on.
  useEffect(() => notify(""), [path]);
  let m: RegExpMatchArray | null;
  if (path === "/" || path === "/search") return <Catalog url={url} />;
  if ((m = path.match(/^\/products\/([^/]+)$/))) return <ProductPage key={m[1]} idOrSlug={decodeURIComponent(m[1])} />;
  if (path === "/cart") return <CartPage />;
  // Only a path of this shop may follow a sign-in, never another site.
  const next = url.searchParams.get("next") ?? "/";
  const safeNext = next.startsWith("/") && !next.startsWith("//") ? next : "/";
  if (path === "/login") return <Login next={safeNext} />;
  if (path === "/register") return <Register next={safeNext} />;
  if (path === "/account/addresses") return <Addresses />;
  if (path === "/checkout") return <CheckoutPage />;
  if (path === "/orders") return <Orders />;
  if ((m = path.match(/^\/orders\/([^/]+)$/))) return <OrderPage key={m[1]} orderId={decodeURIComponent(m[1])} />;
  return (
    <section>
      <h1>Page not found</h1>
      <p>
        That page doesn't exist. <a href="/">Go to the shop</a>.
      </p>
    </section>
  );
}

function Notice() {
  const { notice } = useShop();
  return (
    <div class="notice" role="status" aria-live="polite">
      {notice}
    </div>
  );
}

function App() {
  return (
    <ShopProvider>
      <div onClick={onLinkClick as unknown as (e: MouseEvent) => void}>
        <Header />
        <Notice />
        <main id="main">
          <Routes />
        </main>
        <footer>
          <p>Fresh fruit, vegetables and dry fruits from local farms. Prices include the weight you choose.</p>
        </footer>
      </div>
    </ShopProvider>
  );
}

render(<App />, document.getElementById("app")!);
