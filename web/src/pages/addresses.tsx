// The address book (profile service): list, add, make default, delete. The form is also
// used inline at checkout.
import { useEffect, useState } from "preact/hooks";
import type { Address } from "@mandi/sdk/gen/mandi/profile/v1/profile_pb";
import { mandi, requestId } from "../api";
import { shopError } from "../errors";
import { navigate } from "../router";
import { useShop } from "../shop";
import { ErrorBox, Field, Loading, PageTitle } from "../ui";

export async function listAddresses(): Promise<Address[]> {
  return (await mandi.profile.listAddresses({ pageSize: 50 })).addresses;
}

export function addressLine(a: Address): string {
  const p = a.postalAddress;
  return [a.label, p?.line1, p?.line2, p?.city, p?.postalCode].filter(Boolean).join(", ");
}

/** Field violations are named by path (address.postal_address.postal_code): key by the last part. */
function byLastPart(fields: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(fields)) out[k.split(".").pop() ?? k] = v;
  return out;
}

export function AddressForm({ onSaved, submitLabel = "Save address" }: { onSaved: (a: Address) => void; submitLabel?: string }) {
  const { user } = useShop();
  const [v, setV] = useState({
    label: "Home",
    recipient: user?.name ?? "",
    phone: "",
    line1: "",
    line2: "",
    city: "",
    region: "",
    postal: "",
    instructions: "",
  });
  const [error, setError] = useState("");
  const [fields, setFields] = useState<Record<string, string>>({});
  const [busy, setBusy] = useState(false);
  const set = (k: keyof typeof v) => (x: string) => setV({ ...v, [k]: x });
  // The account's name arrives after a reload: use it for the recipient unless one was typed.
  useEffect(() => {
    if (user?.name) setV((old) => (old.recipient ? old : { ...old, recipient: user.name }));
  }, [user]);
  async function submit(e: Event) {
    e.preventDefault();
    setBusy(true);
    setError("");
    setFields({});
    try {
      const r = await mandi.profile.createAddress({
        address: {
          label: v.label.trim(),
          recipientName: v.recipient.trim(),
          recipientPhone: v.phone.replace(/[\s-]/g, ""),
          deliveryInstructions: v.instructions.trim(),
          postalAddress: {
            line1: v.line1.trim(),
            line2: v.line2.trim(),
            city: v.city.trim(),
            region: v.region.trim(),
            postalCode: v.postal.trim(),
            countryCode: "IN",
          },
        },
        requestId: requestId(),
      });
      if (r.address) onSaved(r.address);
    } catch (err) {
      const s = shopError(err);
      setError(s.message);
      setFields(byLastPart(s.fields));
    } finally {
      setBusy(false);
    }
  }
  return (
    <form class="address-form" onSubmit={submit} noValidate aria-label="New address">
      <ErrorBox message={error} />
      <Field id="label" label="Label (Home, Office)" value={v.label} onInput={set("label")} error={fields.label} />
      <Field id="recipient" label="Recipient name" autoComplete="name" value={v.recipient} onInput={set("recipient")} error={fields.recipient_name} />
      <Field id="phone" label="Phone" type="tel" inputMode="tel" autoComplete="tel" placeholder="+91 98123 45678" value={v.phone} onInput={set("phone")} error={fields.recipient_phone} />
      <Field id="line1" label="House and street" autoComplete="address-line1" value={v.line1} onInput={set("line1")} error={fields.line1} required />
      <Field id="line2" label="Apartment, landmark (optional)" autoComplete="address-line2" value={v.line2} onInput={set("line2")} error={fields.line2} />
      <Field id="city" label="City" autoComplete="address-level2" value={v.city} onInput={set("city")} error={fields.city} required />
      <Field id="region" label="State" autoComplete="address-level1" value={v.region} onInput={set("region")} error={fields.region} />
      <Field id="postal" label="PIN code" inputMode="numeric" autoComplete="postal-code" value={v.postal} onInput={set("postal")} error={fields.postal_code} required />
      <Field id="instructions" label="Instructions for the rider (optional)" value={v.instructions} onInput={set("instructions")} error={fields.delivery_instructions} />
      <button type="submit" disabled={busy}>
        {busy ? "Saving…" : submitLabel}
      </button>
    </form>
  );
}

export function Addresses() {
  const { user } = useShop();
  const [list, setList] = useState<Address[] | null>(null);
  const [adding, setAdding] = useState(false);
  const [error, setError] = useState("");
  async function load() {
    try {
      setList(await listAddresses());
    } catch (err) {
      setError(shopError(err).message);
      setList([]);
    }
  }
  useEffect(() => {
    if (!mandi.signedIn()) navigate("/login?next=/account/addresses", true);
    else void load();
  }, [user]);
  async function act(f: () => Promise<unknown>) {
    setError("");
    try {
      await f();
      await load();
    } catch (err) {
      setError(shopError(err).message);
    }
  }
  return (
    <section>
      <PageTitle>Your addresses</PageTitle>
      <ErrorBox message={error} />
      {list === null ? (
        <Loading what="your addresses" />
      ) : list.length === 0 ? (
        <p>You have no saved addresses yet.</p>
      ) : (
        <ul class="addresses">
          {list.map((a) => (
            <li key={a.id}>
              <span>{addressLine(a)}</span>
              {a.isDefault ? (
                <span class="tag">Default</span>
              ) : (
                <button type="button" class="link" onClick={() => act(() => mandi.profile.setDefaultAddress({ addressId: a.id, requestId: requestId() }))}>
                  Make default
                </button>
              )}
              <button type="button" class="link" onClick={() => act(() => mandi.profile.deleteAddress({ addressId: a.id, requestId: requestId() }))} aria-label={`Delete ${addressLine(a)}`}>
                Delete
              </button>
            </li>
          ))}
        </ul>
      )}
      {adding ? (
        <AddressForm
          onSaved={() => {
            setAdding(false);
            void load();
          }}
        />
      ) : (
        <button type="button" onClick={() => setAdding(true)}>
          Add an address
        </button>
      )}
    </section>
  );
}
