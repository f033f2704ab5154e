// Shop-wide state: who is signed in, the cart badge, and one live region for notices.
import { createContext, type ComponentChildren } from "preact";
import { useCallback, useContext, useEffect, useState } from "preact/hooks";
import type { Cart } from "@mandi/sdk/gen/mandi/cart/v1/cart_pb";
import type { User } from "@mandi/sdk/gen/mandi/identity/v1/identity_pb";
import { cartId, guestCart, mandi, requestId } from "./api";
import { shopError } from "./errors";

interface ShopState {
  user: User | null;
  cart: Cart | null;
  notice: string;
  notify(message: string): void;
  setCart(cart: Cart | null): void;
  refreshCart(): Promise<void>;
  /** Signs in, then merges the guest cart into the user's. */
  signIn(email: string, password: string): Promise<void>;
  signOut(): Promise<void>;
}

const ShopContext = createContext<ShopState>(null as unknown as ShopState);
export const useShop = () => useContext(ShopContext);

export function ShopProvider({ children }: { children: ComponentChildren }) {
  const [user, setUser] = useState<User | null>(null);
  const [cart, setCart] = useState<Cart | null>(null);
  const [notice, setNotice] = useState("");

  const refreshCart = useCallback(async () => {
    const id = cartId();
    if (!mandi.signedIn() && !id) {
      setCart(null);
      return;
    }
    try {
      setCart((await mandi.cart.getCart({ cartId: id })).cart ?? null);
    } catch (err) {
      // An expired guest cart is simply gone: start a fresh one on the next add.
      if (shopError(err).reason === "CART_NOT_FOUND" || !mandi.signedIn()) guestCart.clear();
      setCart(null);
    }
  }, []);

  const loadUser = useCallback(async () => {
    if (!mandi.signedIn()) {
      setUser(null);
      return;
    }
    try {
      setUser((await mandi.identity.getCurrentUser({})).user ?? null);
    } catch {
      setUser(null);
    }
  }, []);

  useEffect(() => {
    void loadUser();
    void refreshCart();
    const out = () => {
      setUser(null);
      void refreshCart();
    };
    window.addEventListener("mandi:signed-out", out);
    return () => window.removeEventListener("mandi:signed-out", out);
  }, []);

  const signIn = useCallback(async (email: string, password: string) => {
    await mandi.login(email, password);
    const guest = guestCart.get();
    if (guest) {
      try {
        const merged = await mandi.cart.mergeGuestCart({ guestCartId: guest, requestId: requestId() });
        setCart(merged.cart ?? null);
      } catch (err) {
        // An expired guest cart has nothing to merge; anything else is worth saying.
        if (shopError(err).reason !== "CART_NOT_FOUND") setNotice(`Your guest cart could not be moved: ${shopError(err).message}`);
      }
      guestCart.clear();
    }
    await loadUser();
    await refreshCart();
  }, []);

  const signOut = useCallback(async () => {
    await mandi.logout();
    setUser(null);
    setCart(null);
    setNotice("You are signed out.");
  }, []);

  const value: ShopState = {
    user,
    cart,
    notice,
    notify: setNotice,
    setCart,
    refreshCart,
    signIn,
    signOut,
  };
  return <ShopContext.Provider value={value}>{children}</ShopContext.Provider>;
}
