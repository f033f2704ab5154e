// The thin typed client: one call makes a Connect-ES client for every mandi service over
// grpc-web, sharing one transport and one session (access + refresh token).
import { Code, ConnectError, createClient, type Client, type Interceptor } from "@connectrpc/connect";
import { createGrpcWebTransport } from "@connectrpc/connect-web";
import { CartService } from "./gen/mandi/cart/v1/cart_pb";
import { CatalogService } from "./gen/mandi/catalog/v1/catalog_pb";
import { CheckoutService } from "./gen/mandi/checkout/v1/checkout_pb";
import { IdentityService } from "./gen/mandi/identity/v1/identity_pb";
import { InventoryService } from "./gen/mandi/inventory/v1/inventory_pb";
import { NotificationService } from "./gen/mandi/notification/v1/notification_pb";
import { OrderService } from "./gen/mandi/order/v1/order_pb";
import { PaymentService } from "./gen/mandi/payment/v1/payment_pb";
import { ProfileService } from "./gen/mandi/profile/v1/profile_pb";
import { ShippingService } from "./gen/mandi/shipping/v1/shipping_pb";

/** A signed-in session: what identity's Login and Refresh answer. */
export interface Session {
  accessToken: string;
  refreshToken: string;
  /** When the access token expires, in milliseconds since the epoch. */
  expiresAt: number;
}

/** Where the session is kept between calls (memory, localStorage, ...). */
export interface SessionStore {
  get(): Session | null;
  set(session: Session | null): void;
}

/** A store that forgets on reload: for tests and scripts. */
export function memorySessionStore(initial: Session | null = null): SessionStore {
  let session = initial;
  return {
    get: () => session,
    set: (next) => {
      session = next;
    },
  };
}

/** A store in the browser's localStorage under `key`, so a reload stays signed in. */
export function localSessionStore(key = "mandi.session"): SessionStore {
  return {
    get() {
      const raw = globalThis.localStorage?.getItem(key);
      if (!raw) return null;
      try {
        return JSON.parse(raw) as Session;
      } catch {
        return null;
      }
    },
    set(session) {
      if (session) globalThis.localStorage?.setItem(key, JSON.stringify(session));
      else globalThis.localStorage?.removeItem(key);
    },
  };
}

export interface MandiOptions {
  /**
   * Base URL of the grpc-web endpoint: the gateway. In a browser served by the gateway,
   * use the page's own origin (`location.origin`) so calls are same-origin.
   */
  baseUrl: string;
  /** Where the session lives; memory by default. */
  sessions?: SessionStore;
  /** Called when the session ends because refreshing it failed (sign the user out). */
  onSessionExpired?: () => void;
  /** fetch to use (tests in Node pass their own); the global one by default. */
  fetch?: typeof globalThis.fetch;
}

/** A client of every mandi service, sharing one session. */
export interface Mandi {
  identity: Client<typeof IdentityService>;
  profile: Client<typeof ProfileService>;
  catalog: Client<typeof CatalogService>;
  inventory: Client<typeof InventoryService>;
  cart: Client<typeof CartService>;
  order: Client<typeof OrderService>;
  payment: Client<typeof PaymentService>;
  checkout: Client<typeof CheckoutService>;
  shipping: Client<typeof ShippingService>;
  notification: Client<typeof NotificationService>;
  /** The session store every call reads its token from. */
  sessions: SessionStore;
  /** Signs in with email and password and keeps the session. */
  login(email: string, password: string): Promise<Session>;
  /** Ends the session at identity (best effort) and forgets it. */
  logout(): Promise<void>;
  /** Whether a session is held (it may still need a refresh). */
  signedIn(): boolean;
}

// Renew a little before expiry, so a call does not leave with a token that dies in flight.
const EXPIRY_MARGIN_MS = 30_000;

function sessionFrom(r: { accessToken: string; refreshToken: string; expiresIn: bigint }): Session {
  return {
    accessToken: r.accessToken,
    refreshToken: r.refreshToken,
    expiresAt: Date.now() + Number(r.expiresIn) * 1000,
  };
}

/** Makes clients for every service with Bearer tokens and refresh on UNAUTHENTICATED. */
export function createMandi(options: MandiOptions): Mandi {
  const sessions = options.sessions ?? memorySessionStore();
  const base = {
    baseUrl: options.baseUrl,
    // Protobuf binary: Connect's alternative is JSON over grpc-web, which tonic does not speak.
    useBinaryFormat: true,
    fetch: options.fetch,
  };
  // Refresh calls go through a transport without the auth interceptor: no recursion.
  const plainIdentity = createClient(IdentityService, createGrpcWebTransport(base));

  // One refresh at a time: calls refused together wait for the same renewal, because refresh
  // tokens rotate and a second use of the old one would revoke the whole sign-in.
  let refreshing: Promise<Session | null> | null = null;
  function refresh(stale: Session): Promise<Session | null> {
    refreshing ??= (async () => {
      try {
        const current = sessions.get();
        // Another tab or call already renewed it.
        if (current && current.accessToken !== stale.accessToken) return current;
        const renewed = sessionFrom(await plainIdentity.refresh({ refreshToken: stale.refreshToken }));
        sessions.set(renewed);
        return renewed;
      } catch (err) {
        const code = ConnectError.from(err).code;
        // Only a refused refresh token ends the session; a network blip does not.
        if (code === Code.Unauthenticated || code === Code.InvalidArgument || code === Code.NotFound) {
          sessions.set(null);
          options.onSessionExpired?.();
          return null;
        }
        throw err;
      } finally {
        refreshing = null;
      }
    })();
    return refreshing;
  }

  const auth: Interceptor = (next) => async (req) => {
    let session = sessions.get();
    if (session && session.expiresAt - EXPIRY_MARGIN_MS < Date.now()) {
      session = await refresh(session);
    }
    if (session) req.header.set("authorization", `Bearer ${session.accessToken}`);
    try {
      return await next(req);
    } catch (err) {
      const ce = ConnectError.from(err);
      if (!session || ce.code !== Code.Unauthenticated) throw err;
      // The token was refused (expired early, key rotated): renew once and retry.
      const renewed = await refresh(session);
      if (!renewed) throw err;
      req.header.set("authorization", `Bearer ${renewed.accessToken}`);
      return await next(req);
    }
  };

  const transport = createGrpcWebTransport({ ...base, interceptors: [auth] });
  const identity = createClient(IdentityService, transport);
  return {
    identity,
    profile: createClient(ProfileService, transport),
    catalog: createClient(CatalogService, transport),
    inventory: createClient(InventoryService, transport),
    cart: createClient(CartService, transport),
    order: createClient(OrderService, transport),
    payment: createClient(PaymentService, transport),
    checkout: createClient(CheckoutService, transport),
    shipping: createClient(ShippingService, transport),
    notification: createClient(NotificationService, transport),
    sessions,
    async login(email, password) {
      const session = sessionFrom(await plainIdentity.login({ email, password }));
      sessions.set(session);
      return session;
    },
    async logout() {
      const session = sessions.get();
      sessions.set(null);
      if (session) {
        try {
          await plainIdentity.logout({ refreshToken: session.refreshToken });
        } catch {
          // The session is forgotten here either way; identity expires it on its own.
        }
      }
    },
    signedIn: () => sessions.get() !== null,
  };
}
