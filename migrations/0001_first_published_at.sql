ALTER TABLE "articles" ADD COLUMN "first_published_at" timestamp (3) with time zone;--> statement-breakpoint
-- Backfill: a published or scheduled article first went (or goes) public at its publishedAt; an
-- archived one did if that time has passed (archived before its schedule came, it never did).
UPDATE "articles" SET "first_published_at" = "published_at"
WHERE "published_at" IS NOT NULL
  AND ("status" IN ('published', 'scheduled') OR ("status" = 'archived' AND "published_at" <= now()));
