// A small history router: real paths (/products/alphonso-mango), which the gateway answers
// with index.html, so links can be shared and reloaded.
import { useEffect, useState } from "preact/hooks";

export function navigate(to: string, replace = false) {
  if (replace) history.replaceState(null, "", to);
  else history.pushState(null, "", to);
  window.dispatchEvent(new PopStateEvent("popstate"));
  window.scrollTo(0, 0);
}

export function useLocation(): URL {
  const [url, setUrl] = useState(() => new URL(location.href));
  useEffect(() => {
    const on = () => setUrl(new URL(location.href));
    window.addEventListener("popstate", on);
    return () => window.removeEventListener("popstate", on);
  }, []);
  return url;
}

/** Intercepts clicks on same-origin links so they navigate without a reload. */
export function onLinkClick(e: MouseEvent) {
  const a = (e.target as HTMLElement).closest("a");
  if (!a || a.target || a.origin !== location.origin || e.metaKey || e.ctrlKey || e.shiftKey) return;
  if (a.hasAttribute("download")) return;
  e.preventDefault();
  navigate(a.pathname + a.search);
}
