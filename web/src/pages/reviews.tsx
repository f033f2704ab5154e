// A product's reviews (CatalogService.ListReviews) and, for a signed-in shopper, a form
// to write one (CreateReview: one per shopper and product).
import { useEffect, useState } from "preact/hooks";
import { Code } from "@mandi/sdk";
import type { Product, Review } from "@mandi/sdk/gen/mandi/catalog/v1/catalog_pb";
import { mandi, requestId } from "../api";
import { shopError } from "../errors";
import { date } from "../format";
import { useShop } from "../shop";
import { ErrorBox } from "../ui";

function stars(n: number) {
  return "★".repeat(n) + "☆".repeat(5 - n);
}

export function Reviews({ product }: { product: Product }) {
  const { user } = useShop();
  const [reviews, setReviews] = useState<Review[] | null>(null);
  const [rating, setRating] = useState(0);
  const [title, setTitle] = useState("");
  const [text, setText] = useState("");
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);

  async function load() {
    try {
      setReviews((await mandi.catalog.listReviews({ productId: product.id, pageSize: 20 })).reviews);
    } catch {
      setReviews([]);
    }
  }
  useEffect(() => {
    void load();
  }, [product.id]);

  async function submit(e: Event) {
    e.preventDefault();
    setError("");
    if (rating === 0) {
      setError("Choose how many stars to give.");
      return;
    }
    setBusy(true);
    try {
      await mandi.catalog.createReview({ review: { productId: product.id, rating, title: title.trim(), text: text.trim() }, requestId: requestId() });
      setRating(0);
      setTitle("");
      setText("");
      await load();
    } catch (err) {
      const s = shopError(err);
      setError(s.code === Code.AlreadyExists ? "You have already reviewed this product." : s.message);
    } finally {
      setBusy(false);
    }
  }

  const count = reviews?.length ?? 0;
  const average = count ? reviews!.reduce((sum, r) => sum + r.rating, 0) / count : 0;
  return (
    <section aria-labelledby="reviews-heading">
      <h2 id="reviews-heading">Reviews</h2>
      {reviews === null ? null : count === 0 ? (
        <p>No reviews yet.</p>
      ) : (
        <>
          <p>
            <span aria-hidden="true">{stars(Math.round(average))}</span> {average.toFixed(1)} out of 5 from {count}{" "}
            {count === 1 ? "review" : "reviews"}
          </p>
          <ul class="reviews" aria-label="Reviews">
            {reviews.map((r) => (
              <li key={r.id}>
                <p>
                  <span aria-label={`${r.rating} out of 5 stars`}>{stars(r.rating)}</span> <strong>{r.title}</strong>
                </p>
                {r.text && <p>{r.text}</p>}
                <p class="meta">
                  {r.authorDisplayName || (r.authorId === user?.id ? "You" : "A shopper")} · {date(r.createTime, false)}
                  {r.verifiedPurchase ? " · Verified purchase" : ""}
                </p>
              </li>
            ))}
          </ul>
        </>
      )}
      {user ? (
        <form onSubmit={submit} class="review-form" noValidate>
          <fieldset>
            <legend>Your rating</legend>
            <div class="stars">
              {[1, 2, 3, 4, 5].map((n) => (
                <label class="check" key={n}>
                  <input type="radio" name="rating" value={n} checked={rating === n} onChange={() => setRating(n)} />
                  {n} {n === 1 ? "star" : "stars"}
                </label>
              ))}
            </div>
          </fieldset>
          <div class="field">
            <label for="review-title">Headline (optional)</label>
            <input id="review-title" value={title} maxLength={120} onInput={(e) => setTitle((e.target as HTMLInputElement).value)} />
          </div>
          <div class="field">
            <label for="review-text">Your review (optional)</label>
            <textarea id="review-text" rows={3} value={text} maxLength={5000} onInput={(e) => setText((e.target as HTMLTextAreaElement).value)} />
          </div>
          <ErrorBox message={error} />
          <button type="submit" disabled={busy}>
            {busy ? "Sending…" : "Post review"}
          </button>
        </form>
      ) : (
        <p>
          <a href={`/login?next=/products/${product.slug || product.id}`}>Sign in</a> to write a review.
        </p>
      )}
    </section>
  );
}
