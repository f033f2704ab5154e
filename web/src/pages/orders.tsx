// Order history (OrderService.ListOrders) and one order with live delivery tracking
// (ShippingService.WatchShipment, a server stream through grpc-web).
import { useEffect, useState } from "preact/hooks";
import { Code } from "@mandi/sdk";
import { OrderStatus, type Order } from "@mandi/sdk/gen/mandi/order/v1/order_pb";
import { PaymentMethod } from "@mandi/sdk/gen/mandi/payment/v1/payment_pb";
import { ShipmentStatus, type Shipment } from "@mandi/sdk/gen/mandi/shipping/v1/shipping_pb";
import { mandi, requestId } from "../api";
import { shopError } from "../errors";
import { date, formatMoney, quantity, slotWindow } from "../format";
import { navigate } from "../router";
import { useShop } from "../shop";
import { ErrorBox, Loading, PageTitle } from "../ui";

const ORDER_WORDS: Record<number, string> = {
  [OrderStatus.CREATED]: "Created",
  [OrderStatus.PAYMENT_PENDING]: "Awaiting payment",
  [OrderStatus.PAID]: "Paid",
  [OrderStatus.PACKED]: "Packed",
  [OrderStatus.SHIPPED]: "On its way",
  [OrderStatus.DELIVERED]: "Delivered",
  [OrderStatus.CANCELLED]: "Cancelled",
  [OrderStatus.REFUNDED]: "Refunded",
};

const SHIPMENT_WORDS: Record<number, string> = {
  [ShipmentStatus.PENDING]: "Waiting for a rider",
  [ShipmentStatus.ASSIGNED]: "Rider assigned",
  [ShipmentStatus.PICKED_UP]: "Picked up from the warehouse",
  [ShipmentStatus.OUT_FOR_DELIVERY]: "Out for delivery",
  [ShipmentStatus.DELIVERED]: "Delivered",
  [ShipmentStatus.DELIVERY_FAILED]: "Delivery attempt failed",
  [ShipmentStatus.RETURNED]: "Returned to the warehouse",
  [ShipmentStatus.CANCELLED]: "Cancelled",
};

export const orderStatus = (s: OrderStatus) => ORDER_WORDS[s] ?? "Processing";

function shortId(id: string) {
  return id.slice(-8).toUpperCase();
}

export function Orders() {
  const { user } = useShop();
  const [orders, setOrders] = useState<Order[] | null>(null);
  const [next, setNext] = useState("");
  const [error, setError] = useState("");
  useEffect(() => {
    if (!mandi.signedIn()) {
      navigate("/login?next=/orders", true);
      return;
    }
    mandi.order.listOrders({ pageSize: 20 }).then(
      (r) => {
        setOrders(r.orders);
        setNext(r.nextPageToken);
      },
      (err) => {
        setOrders([]);
        setError(shopError(err).message);
      },
    );
  }, [user]);
  async function more() {
    try {
      const r = await mandi.order.listOrders({ pageSize: 20, pageToken: next });
      setOrders([...(orders ?? []), ...r.orders]);
      setNext(r.nextPageToken);
    } catch (err) {
      setError(shopError(err).message);
    }
  }
  return (
    <section>
      <PageTitle>Your orders</PageTitle>
      <ErrorBox message={error} />
      {orders === null ? (
        <Loading what="your orders" />
      ) : orders.length === 0 ? (
        <p>
          No orders yet. <a href="/">Start shopping</a>.
        </p>
      ) : (
        <ul class="orders" aria-label="Orders">
          {orders.map((o) => (
            <li key={o.id}>
              <a href={`/orders/${o.id}`}>Order {shortId(o.id)}</a>
              <span>{date(o.createTime)}</span>
              <span class="tag">{orderStatus(o.status)}</span>
              <span>
                {o.items.length} {o.items.length === 1 ? "item" : "items"} · {formatMoney(o.totals?.total)}
              </span>
            </li>
          ))}
        </ul>
      )}
      {next && (
        <button type="button" class="secondary" onClick={more}>
          Show older orders
        </button>
      )}
    </section>
  );
}

type Tracking = { kind: "waiting" } | { kind: "live"; shipment: Shipment } | { kind: "none"; message: string };

const TERMINAL = new Set([ShipmentStatus.DELIVERED, ShipmentStatus.RETURNED, ShipmentStatus.CANCELLED]);

function useTracking(shipmentId: string): Tracking {
  const [t, setT] = useState<Tracking>({ kind: "waiting" });
  useEffect(() => {
    if (!shipmentId) {
      setT({ kind: "none", message: "Tracking starts once your order is handed to delivery." });
      return;
    }
    const abort = new AbortController();
    (async () => {
      // Reconnect a dropped stream: its first message is the current shipment again.
      for (let attempt = 0; attempt < 5 && !abort.signal.aborted; attempt++) {
        try {
          for await (const m of mandi.shipping.watchShipment({ shipmentId }, { signal: abort.signal })) {
            if (m.shipment) setT({ kind: "live", shipment: m.shipment });
            if (m.shipment && TERMINAL.has(m.shipment.status)) return;
          }
          return;
        } catch (err) {
          if (abort.signal.aborted) return;
          const s = shopError(err);
          if (s.code === Code.Unimplemented || (s.code === Code.NotFound && !s.reason)) {
            setT({ kind: "none", message: "Live tracking isn't available yet. We'll email you when your order is on its way." });
            return;
          }
          if (s.code !== Code.Unavailable && s.code !== Code.DeadlineExceeded && s.code !== Code.Unknown) {
            setT({ kind: "none", message: s.message });
            return;
          }
          await new Promise((r) => setTimeout(r, 1000 * (attempt + 1)));
        }
      }
    })();
    return () => abort.abort();
  }, [shipmentId]);
  return t;
}

/**
 * The order's shipment id: on the order once shipping has told it, else found by order id
 * (shipping creates the shipment itself when payment is confirmed, a moment after the
 * order is paid), polled for a little while.
 */
function useShipmentId(order: Order | null | undefined): string {
  const [id, setId] = useState("");
  useEffect(() => {
    if (!order) return;
    if (order.shipmentId) {
      setId(order.shipmentId);
      return;
    }
    const paid = ![OrderStatus.CREATED, OrderStatus.PAYMENT_PENDING, OrderStatus.CANCELLED].includes(order.status);
    if (!paid) return;
    let stop = false;
    (async () => {
      for (let attempt = 0; attempt < 10 && !stop; attempt++) {
        try {
          const r = await mandi.shipping.listShipments({ orderId: order.id, pageSize: 1 });
          if (r.shipments[0]) {
            setId(r.shipments[0].id);
            return;
          }
        } catch {
          // Shipping not answering: tracking says so once it has an id to watch.
          return;
        }
        await new Promise((r) => setTimeout(r, 1500));
      }
    })();
    return () => {
      stop = true;
    };
  }, [order]);
  return id;
}

const CANCELLABLE = new Set([OrderStatus.CREATED, OrderStatus.PAYMENT_PENDING, OrderStatus.PAID]);

/** Cancelling, asked once more before it is done; refunds and stock follow by events. */
function CancelOrder({ order, onCancelled }: { order: Order; onCancelled: (o: Order) => void }) {
  const [asking, setAsking] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState("");
  if (!CANCELLABLE.has(order.status)) return null;
  async function cancel() {
    setBusy(true);
    setError("");
    try {
      const r = await mandi.order.cancelOrder({ orderId: order.id, reason: "cancelled by the shopper", requestId: requestId() });
      if (r.order) onCancelled(r.order);
      setAsking(false);
    } catch (err) {
      setError(shopError(err).message);
    } finally {
      setBusy(false);
    }
  }
  return (
    <div class="cancel">
      <ErrorBox message={error} />
      {asking ? (
        <div role="group" aria-labelledby="cancel-question">
          <p id="cancel-question">
            Cancel this order?{" "}
            {order.paymentMethod === PaymentMethod.CARD ? "The payment goes back to your card." : "Nothing is charged."}
          </p>
          <button type="button" onClick={cancel} disabled={busy}>
            {busy ? "Cancelling…" : "Yes, cancel the order"}
          </button>{" "}
          <button type="button" class="secondary" onClick={() => setAsking(false)}>
            Keep the order
          </button>
        </div>
      ) : (
        <button type="button" class="secondary" onClick={() => setAsking(true)}>
          Cancel order
        </button>
      )}
    </div>
  );
}

export function OrderPage({ orderId }: { orderId: string }) {
  const [order, setOrder] = useState<Order | null | undefined>(undefined);
  const [error, setError] = useState("");
  useEffect(() => {
    if (!mandi.signedIn()) {
      navigate(`/login?next=/orders/${orderId}`, true);
      return;
    }
    mandi.order.getOrder({ orderId }).then(
      (r) => setOrder(r.order ?? null),
      (err) => {
        setOrder(null);
        setError(shopError(err).message);
      },
    );
  }, [orderId]);
  const shipmentId = useShipmentId(order);
  const tracking = useTracking(shipmentId);
  // The order's own status follows the delivery (through events): read it again at the end.
  const delivered = tracking.kind === "live" && TERMINAL.has(tracking.shipment.status);
  useEffect(() => {
    if (!delivered) return;
    const timer = setTimeout(() => {
      mandi.order.getOrder({ orderId }).then((r) => r.order && setOrder(r.order), () => {});
    }, 1000);
    return () => clearTimeout(timer);
  }, [delivered]);
  if (order === undefined) return <Loading what="your order" />;
  if (order === null)
    return (
      <section>
        <PageTitle>Order not found</PageTitle>
        <ErrorBox message={error} />
        <p>
          <a href="/orders">Back to your orders</a>
        </p>
      </section>
    );
  const o = order;
  const slot = o.deliverySlot;
  return (
    <section>
      <PageTitle>Order {shortId(o.id)}</PageTitle>
      <p>
        Placed {date(o.createTime)} · <span class="tag">{orderStatus(o.status)}</span>
      </p>
      <ul class="lines" aria-label="Items in this order">
        {o.items.map((i) => (
          <li class="line order-line" key={i.productId}>
            <span class="line-main">{i.productDisplayName}</span>
            <span>{quantity(i.quantity, i.unitOfSale)}</span>
            <span class="line-total">{formatMoney(i.lineTotal)}</span>
          </li>
        ))}
      </ul>
      <dl class="totals">
        <dt>Items</dt>
        <dd>{formatMoney(o.totals?.subtotal)}</dd>
        <dt>Delivery</dt>
        <dd>{o.totals?.deliveryFee?.amountMinor === 0n ? "Free" : formatMoney(o.totals?.deliveryFee)}</dd>
        <dt>Tax</dt>
        <dd>{formatMoney(o.totals?.tax)}</dd>
        <dt>Total</dt>
        <dd class="total">{formatMoney(o.totals?.total)}</dd>
      </dl>
      {o.cancelReason && <p class="warn">Cancelled: {o.cancelReason}</p>}
      <CancelOrder order={o} onCancelled={setOrder} />
      <h2>Delivery</h2>
      <p>
        To {o.destination?.recipientName}, {o.destination?.address?.line1}, {o.destination?.address?.city}
        {slot?.startTime ? ` · ${slotWindow(slot.startTime, slot.endTime)}` : ""}
      </p>
      <div aria-live="polite" class="tracking">
        {o.status === OrderStatus.CANCELLED || o.status === OrderStatus.REFUNDED ? (
          <p role="status">This order was cancelled: nothing will be delivered.</p>
        ) : tracking.kind === "waiting" ? (
          <Loading what="tracking" />
        ) : tracking.kind === "none" ? (
          <p role="status">{tracking.message}</p>
        ) : (
          <>
            <p role="status">
              <strong>{SHIPMENT_WORDS[tracking.shipment.status] ?? "Preparing"}</strong>
              {tracking.shipment.riderDisplayName ? ` · Rider: ${tracking.shipment.riderDisplayName}` : ""}
              {tracking.shipment.estimatedDeliveryTime ? ` · Expected ${date(tracking.shipment.estimatedDeliveryTime)}` : ""}
            </p>
            {tracking.shipment.deliveryCode && !TERMINAL.has(tracking.shipment.status) && (
              <p>
                Delivery code for the rider: <strong>{tracking.shipment.deliveryCode}</strong>
              </p>
            )}
            <ol class="timeline" aria-label="Tracking updates">
              {tracking.shipment.trackingEvents.map((e, i) => (
                <li key={i}>
                  {date(e.occurTime)}: {SHIPMENT_WORDS[e.status] ?? ""}
                  {e.note ? ` — ${e.note}` : ""}
                </li>
              ))}
            </ol>
          </>
        )}
      </div>
    </section>
  );
}
