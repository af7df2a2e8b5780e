ALTER TABLE "photos" ADD COLUMN "search" "tsvector" GENERATED ALWAYS AS (
    to_tsvector('simple', coalesce(caption, '') || ' ' || coalesce(credit, '') || ' ' || coalesce(alt_text, ''))) STORED NOT NULL;--> statement-breakpoint
CREATE INDEX "photos_search_idx" ON "photos" USING gin ("search");--> statement-breakpoint
CREATE INDEX "photos_credit_idx" ON "photos" USING btree (lower("credit"),"created_at" DESC NULLS LAST,"id" DESC NULLS LAST);