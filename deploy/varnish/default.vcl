# Varnish in front of the Dateline API (Varnish 7.1 and later, with vmod xkey from
# varnish-modules). It caches anonymous reads for as long as their Cache-Control says, and the
# API's purger (PURGE_VARNISH_URLS) evicts them by cache tag the moment a change commits.
# See deploy/varnish/README.md.
vcl 4.1;

import std;
import xkey;

# The API. With several instances, list them all and balance them with vmod directors.
backend api {
    .host = "127.0.0.1";
    .port = "3000";
    .connect_timeout = 2s;
    .first_byte_timeout = 60s;
    .between_bytes_timeout = 60s;
    .probe = {
        .url = "/health/live";
        .interval = 5s;
        .timeout = 2s;
        .window = 5;
        .threshold = 3;
    }
}

# Who may purge: the API instances' addresses (add yours).
acl purgers {
    "localhost";
    "127.0.0.1";
    "::1";
}

sub vcl_recv {
    if (req.method == "PURGE") {
        if (client.ip !~ purgers) {
            return (synth(403, "Forbidden"));
        }
        # `xkey-purge: tag tag ...` removes every object carrying one of the tags;
        # `xkey-softpurge: ...` only expires them, so they may be served stale (within their
        # stale-while-revalidate) while a fresh copy is fetched.
        if (req.http.xkey-purge) {
            set req.http.x-purged = xkey.purge(req.http.xkey-purge);
        } elsif (req.http.xkey-softpurge) {
            set req.http.x-purged = xkey.softpurge(req.http.xkey-softpurge);
        } else {
            return (synth(400, "Missing xkey-purge or xkey-softpurge header"));
        }
        return (synth(200, "Purged " + req.http.x-purged));
    }

    # The API sets no cookies and reads none: a site's cookies must not split the cache.
    unset req.http.Cookie;

    # Only anonymous reads are cached. A request with a token (staff, a content key) always goes
    # to the API, which answers it `private, no-store` anyway.
    if (req.method != "GET" && req.method != "HEAD") {
        return (pass);
    }
    if (req.http.Authorization) {
        return (pass);
    }
    return (hash);
}

sub vcl_synth {
    if (req.method == "PURGE") {
        set resp.http.Content-Type = "text/plain; charset=utf-8";
        set resp.http.x-purged = req.http.x-purged;
        set resp.body = resp.reason + {"
"};
        return (deliver);
    }
}

sub vcl_backend_response {
    # Cached only what the API says is public (anonymous 200s): errors, redirects and every
    # `private`/`no-store` answer are not kept, and the next request asks the API again.
    if (beresp.http.Cache-Control !~ "(?i)(^|[ ,])public($|[ ,])" ||
        beresp.http.Cache-Control ~ "(?i)(no-store|no-cache|private)" ||
        beresp.status != 200) {
        set beresp.uncacheable = true;
        set beresp.ttl = 0s;
        set beresp.grace = 0s;
        return (deliver);
    }
    # The cache tags, where xkey indexes them (it reads the `xkey` header).
    if (beresp.http.Surrogate-Key) {
        set beresp.http.xkey = beresp.http.Surrogate-Key;
    }
    # TTL from max-age (or s-maxage), grace from stale-while-revalidate: Varnish reads both from
    # Cache-Control by itself. The API's own `x-cache` (its in-process cache) is replaced below.
    unset beresp.http.x-cache;
    return (deliver);
}

sub vcl_deliver {
    if (obj.uncacheable) {
        set resp.http.X-Cache = "PASS";
    } elsif (obj.hits > 0) {
        set resp.http.X-Cache = "HIT";
    } else {
        set resp.http.X-Cache = "MISS";
    }
    # Tags are for caches, not browsers, unless someone asks (`X-Cache-Debug: 1`). Cache-Tag is
    # kept: Cloudflare in front of Varnish reads it there (and strips it itself).
    unset resp.http.xkey;
    if (!req.http.X-Cache-Debug) {
        unset resp.http.Surrogate-Key;
    }
    return (deliver);
}
