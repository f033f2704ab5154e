// Register and sign in. Signing in merges the guest cart into the account's cart.
import { useState } from "preact/hooks";
import { mandi, requestId } from "../api";
import { shopError } from "../errors";
import { navigate } from "../router";
import { useShop } from "../shop";
import { ErrorBox, Field, PageTitle } from "../ui";

export function Login({ next }: { next: string }) {
  const { signIn } = useShop();
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState("");
  const [fields, setFields] = useState<Record<string, string>>({});
  const [busy, setBusy] = useState(false);
  async function submit(e: Event) {
    e.preventDefault();
    setBusy(true);
    setError("");
    try {
      await signIn(email.trim(), password);
      navigate(next, true);
    } catch (err) {
      const s = shopError(err);
      setError(s.message);
      setFields(s.fields);
    } finally {
      setBusy(false);
    }
  }
  return (
    <section class="narrow">
      <PageTitle>Sign in</PageTitle>
      <form onSubmit={submit} noValidate>
        <ErrorBox message={error} />
        <Field id="email" label="Email" type="email" autoComplete="email" value={email} onInput={setEmail} error={fields.email} required />
        <Field id="password" label="Password" type="password" autoComplete="current-password" value={password} onInput={setPassword} error={fields.password} required />
        <button type="submit" disabled={busy}>
          {busy ? "Signing in…" : "Sign in"}
        </button>
      </form>
      <p>
        New to mandi? <a href={`/register?next=${encodeURIComponent(next)}`}>Create an account</a>
      </p>
    </section>
  );
}

export function Register({ next }: { next: string }) {
  const { signIn } = useShop();
  const [name, setName] = useState("");
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState("");
  const [fields, setFields] = useState<Record<string, string>>({});
  const [busy, setBusy] = useState(false);
  async function submit(e: Event) {
    e.preventDefault();
    setBusy(true);
    setError("");
    setFields({});
    try {
      await mandi.identity.register({ name: name.trim(), email: email.trim(), password, requestId: requestId() });
      await signIn(email.trim(), password);
      navigate(next, true);
    } catch (err) {
      const s = shopError(err);
      setError(s.message);
      setFields(s.fields);
    } finally {
      setBusy(false);
    }
  }
  return (
    <section class="narrow">
      <PageTitle>Create an account</PageTitle>
      <form onSubmit={submit} noValidate>
        <ErrorBox message={error} />
        <Field id="name" label="Name" autoComplete="name" value={name} onInput={setName} error={fields.name} required />
        <Field id="email" label="Email" type="email" autoComplete="email" value={email} onInput={setEmail} error={fields.email} required />
        <Field
          id="password"
          label="Password"
          type="password"
          autoComplete="new-password"
          value={password}
          onInput={setPassword}
          error={fields.password}
          hint="At least 8 characters."
          required
        />
        <button type="submit" disabled={busy}>
          {busy ? "Creating your account…" : "Create account"}
        </button>
      </form>
      <p>
        Already have an account? <a href={`/login?next=${encodeURIComponent(next)}`}>Sign in</a>
      </p>
    </section>
  );
}
