// Small accessible building blocks shared by the pages.
import type { ComponentChildren } from "preact";
import { useEffect, useRef } from "preact/hooks";

/** An error for the shopper, announced to screen readers and focused so it is seen. */
export function ErrorBox({ message }: { message: string }) {
  const ref = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (message) ref.current?.focus();
  }, [message]);
  if (!message) return null;
  return (
    <div class="error" role="alert" tabIndex={-1} ref={ref}>
      {message}
    </div>
  );
}

/** A labelled input whose field error is tied to it with aria-describedby. */
export function Field(props: {
  id: string;
  label: string;
  error?: string;
  type?: "text" | "email" | "password" | "tel" | "number" | "search";
  value: string;
  onInput: (v: string) => void;
  autoComplete?: string;
  required?: boolean;
  inputMode?: "numeric" | "tel" | "email" | "text";
  placeholder?: string;
  hint?: string;
}) {
  const errId = `${props.id}-error`;
  const hintId = `${props.id}-hint`;
  const describedBy = [props.hint ? hintId : "", props.error ? errId : ""].filter(Boolean).join(" ");
  return (
    <div class="field">
      <label for={props.id}>{props.label}</label>
      <input
        id={props.id}
        name={props.id}
        type={(props.type ?? "text") as "text"}
        value={props.value}
        onInput={(e) => props.onInput((e.target as HTMLInputElement).value)}
        autoComplete={props.autoComplete}
        required={props.required}
        inputMode={props.inputMode}
        placeholder={props.placeholder}
        aria-invalid={props.error ? "true" : undefined}
        aria-describedby={describedBy || undefined}
      />
      {props.hint && (
        <p class="hint" id={hintId}>
          {props.hint}
        </p>
      )}
      {props.error && (
        <p class="field-error" id={errId}>
          {props.error}
        </p>
      )}
    </div>
  );
}

/** The page heading, focused on navigation so screen readers announce the new page. */
export function PageTitle({ children }: { children: ComponentChildren }) {
  const ref = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    ref.current?.focus();
    document.title = `${ref.current?.textContent ?? ""} — mandi`;
  }, []);
  return (
    <h1 tabIndex={-1} ref={ref}>
      {children}
    </h1>
  );
}

export function Loading({ what }: { what: string }) {
  return (
    <p class="loading" role="status">
      Loading {what}…
    </p>
  );
}
