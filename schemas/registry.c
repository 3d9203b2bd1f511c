#include "schemas/registry.h"

#include "schemas/avro_bin.h"
#include "schemas/sha256.h"
#include "schemas/url.h"

#include <curl/curl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_URLS      8
#define MAX_RESPONSE  (16u << 20) /* a schema larger than this is not one we sent */
#define CONTENT_TYPE  "Content-Type: application/vnd.schemaregistry.v1+json"
#define ACCEPT_HEADER "Accept: application/vnd.schemaregistry.v1+json, application/json"

typedef struct {
    char *subject;
    uint8_t digest[32]; /* SHA-256 of the schema text */
    int32_t id;
} reg_entry;

typedef struct {
    int32_t id;
    char *schema;
} id_entry;

struct tw_registry {
    char *urls[MAX_URLS];  /* as given, credentials included, no trailing '/' */
    char *shown[MAX_URLS]; /* without user:password */
    int nurls;
    int current; /* the URL that answered last */
    char *shown_all;
    CURL *easy;
    struct curl_slist *headers;
    char curl_err[CURL_ERROR_SIZE];
    tw_buf body; /* the last response */
    reg_entry *reg;
    size_t nreg, capreg;
    id_entry *ids;
    size_t nids, capids;
    uint64_t counts[TW_REG_ERROR + 1];
    long last_status;
    int (*progress)(void *arg);
    void *progress_arg;
};

static void forget(tw_registry *r);
static int on_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow);

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_rc;

static void global_init(void)
{
    global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

const char *tw_reg_status_name(tw_reg_status s)
{
    switch (s) {
    case TW_REG_OK:
        return "ok";
    case TW_REG_UNAVAILABLE:
        return "unavailable";
    case TW_REG_INCOMPATIBLE:
        return "incompatible";
    case TW_REG_INVALID:
        return "invalid";
    case TW_REG_AUTH:
        return "auth";
    case TW_REG_NOT_FOUND:
        return "not_found";
    case TW_REG_ERROR:
        break;
    }
    return "error";
}

static size_t collect(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    tw_buf *b = userdata;
    size_t n = size * nmemb;
    tw_buf_append(b, ptr, n);
    return b->error ? 0 : n; /* 0 makes libcurl fail the transfer */
}

/* Checks one URL and makes its shown form (no user:password). */
static int add_url(tw_registry *r, const char *url, size_t len, char *err, size_t errsize)
{
    while (len && (url[len - 1] == '/' || url[len - 1] == ' '))
        len--;
    if (r->nurls == MAX_URLS) {
        snprintf(err, errsize, "schema.registry.url: more than %d URLs", MAX_URLS);
        return -1;
    }
    char *full = strndup(url, len);
    char *shown = full ? tw_url_redact(full, "") : NULL;
    CURLU *u = curl_url();
    if (!shown || !u) {
        free(full);
        free(shown);
        curl_url_cleanup(u);
        snprintf(err, errsize, "schema registry: out of memory");
        return -1;
    }
    char *scheme = NULL;
    CURLUcode uc = curl_url_set(u, CURLUPART_URL, full, 0);
    if (uc == CURLUE_OK)
        uc = curl_url_get(u, CURLUPART_SCHEME, &scheme, 0);
    curl_url_cleanup(u);
    int rc = -1;
    if (uc != CURLUE_OK) {
        snprintf(err, errsize, "schema.registry.url: a URL does not parse: %s",
                 curl_url_strerror(uc));
    } else if (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0) {
        snprintf(err, errsize, "schema.registry.url '%s': only http:// and https:// are supported",
                 shown);
    } else {
        r->urls[r->nurls] = full;
        r->shown[r->nurls++] = shown;
        full = shown = NULL;
        rc = 0;
    }
    curl_free(scheme);
    free(shown);
    free(full);
    return rc;
}

static int set_opt_str(CURL *e, CURLoption o, const char *v)
{
    return v && *v ? curl_easy_setopt(e, o, v) != CURLE_OK : 0;
}

tw_registry *tw_registry_new(const tw_registry_opts *o, char *err, size_t errsize)
{
    err[0] = '\0';
    pthread_once(&global_once, global_init);
    if (global_rc != CURLE_OK) {
        snprintf(err, errsize, "schema registry: libcurl does not start: %s",
                 curl_easy_strerror(global_rc));
        return NULL;
    }
    tw_registry *r = calloc(1, sizeof *r);
    if (!r) {
        snprintf(err, errsize, "schema registry: out of memory");
        return NULL;
    }
    tw_buf_init(&r->body, MAX_RESPONSE);
    for (const char *s = o->urls ? o->urls : ""; *s;) {
        while (*s == ' ' || *s == ',')
            s++;
        size_t n = strcspn(s, ",");
        if (n && add_url(r, s, n, err, errsize) != 0)
            goto fail;
        s += n;
    }
    if (r->nurls == 0) {
        snprintf(err, errsize, "schema.registry.url is empty");
        goto fail;
    }
    tw_buf all;
    tw_buf_init(&all, 0);
    for (int i = 0; i < r->nurls; i++)
        tw_buf_printf(&all, "%s%s", i ? "," : "", r->shown[i]);
    tw_buf_putc(&all, '\0');
    r->shown_all = all.error ? NULL : (char *)all.data;
    if (!r->shown_all) {
        tw_buf_free(&all);
        snprintf(err, errsize, "schema registry: out of memory");
        goto fail;
    }
    r->easy = curl_easy_init();
    struct curl_slist *h = curl_slist_append(NULL, CONTENT_TYPE);
    if (h)
        r->headers = h;
    h = h ? curl_slist_append(h, ACCEPT_HEADER) : NULL;
    h = h ? curl_slist_append(h, "Expect:") : NULL;
    if (!r->easy || !h) {
        snprintf(err, errsize, "schema registry: libcurl cannot start (out of memory)");
        goto fail;
    }
    CURL *e = r->easy;
    int bad = 0;
#if LIBCURL_VERSION_NUM >= 0x075500
    bad |= curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https") != CURLE_OK;
#else
    bad |= curl_easy_setopt(e, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS)) !=
           CURLE_OK;
#endif
    bad |= curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L) != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->headers) != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_USERAGENT, "tidewater/" TW_VERSION) != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_TIMEOUT_MS,
                            (long)(o->timeout_ms > 0 ? o->timeout_ms : 10000)) != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
                            (long)(o->timeout_ms > 0 ? o->timeout_ms : 10000)) != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, collect) != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_WRITEDATA, &r->body) != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->curl_err) != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_XFERINFOFUNCTION, on_progress) != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_XFERINFODATA, r) != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_NOPROGRESS, 0L) != CURLE_OK;
    if (o->user_info && *o->user_info) {
        bad |= curl_easy_setopt(e, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC) != CURLE_OK;
        bad |= curl_easy_setopt(e, CURLOPT_USERPWD, o->user_info) != CURLE_OK;
    }
    bad |= set_opt_str(e, CURLOPT_CAINFO, o->ca_file);
    bad |= set_opt_str(e, CURLOPT_SSLCERT, o->cert_file);
    bad |= set_opt_str(e, CURLOPT_SSLKEY, o->key_file);
    bad |= set_opt_str(e, CURLOPT_KEYPASSWD, o->key_password);
    if (bad) {
        snprintf(err, errsize, "schema registry: libcurl refuses an option (%s)", curl_version());
        goto fail;
    }
    return r;
fail:
    tw_registry_free(r);
    return NULL;
}

void tw_registry_free(tw_registry *r)
{
    if (!r)
        return;
    for (int i = 0; i < r->nurls; i++) {
        free(r->urls[i]);
        free(r->shown[i]);
    }
    free(r->shown_all);
    if (r->easy)
        curl_easy_cleanup(r->easy);
    curl_slist_free_all(r->headers);
    tw_buf_free(&r->body);
    forget(r);
    free(r->reg);
    free(r->ids);
    free(r);
}

static void forget(tw_registry *r)
{
    for (size_t i = 0; i < r->nreg; i++)
        free(r->reg[i].subject);
    r->nreg = 0;
    for (size_t i = 0; i < r->nids; i++)
        free(r->ids[i].schema);
    r->nids = 0;
}

void tw_registry_forget(tw_registry *r)
{
    forget(r);
}

static int on_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
    tw_registry *r = arg;
    return r->progress && r->progress(r->progress_arg) ? 1 : 0;
}

void tw_registry_set_progress(tw_registry *r, int (*progress)(void *arg), void *arg)
{
    r->progress = progress;
    r->progress_arg = arg;
}

long tw_registry_last_http_status(const tw_registry *r)
{
    return r->last_status;
}

const char *tw_registry_shown(const tw_registry *r)
{
    return r->shown_all;
}

/* The registry's own words, from its {"error_code":..., "message":...}. */
static void reg_message(const tw_buf *b, char *out, size_t outsize)
{
    json_t *j = json_loadb((const char *)b->data, b->len, 0, NULL);
    const char *m = json_string_value(json_object_get(j, "message"));
    if (m)
        snprintf(out, outsize, ": %s", m);
    else if (b->len)
        snprintf(out, outsize, ": %.*s", (int)(b->len > 200 ? 200 : b->len), (const char *)b->data);
    else
        out[0] = '\0';
    json_decref(j);
}

/* One request (body NULL: GET) to path on the URLs in turn until one
 * answers. On a non-UNAVAILABLE answer r->body holds the response. */
static tw_reg_status request(tw_registry *r, const char *path, const char *body, long *status,
                             char *err, size_t errsize)
{
    for (int k = 0; k < r->nurls; k++) {
        int i = (r->current + k) % r->nurls;
        char url[2048];
        snprintf(url, sizeof url, "%s%s", r->urls[i], path);
        tw_buf_reset(&r->body);
        r->last_status = 0;
        r->curl_err[0] = '\0';
        curl_easy_setopt(r->easy, CURLOPT_URL, url);
        if (body) {
            curl_easy_setopt(r->easy, CURLOPT_POSTFIELDS, body);
            curl_easy_setopt(r->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
        } else {
            curl_easy_setopt(r->easy, CURLOPT_HTTPGET, 1L);
        }
        CURLcode cc = curl_easy_perform(r->easy);
        if (cc != CURLE_OK) {
            const char *why = r->curl_err[0] ? r->curl_err : curl_easy_strerror(cc);
            if (r->body.error)
                why = "response larger than 16 MiB";
            /* A certificate the CA file does not vouch for, or a bad client
             * key, is configuration, not an outage. */
            int config = cc == CURLE_PEER_FAILED_VERIFICATION || cc == CURLE_SSL_CERTPROBLEM ||
                         cc == CURLE_SSL_CACERT_BADFILE || cc == CURLE_SSL_CIPHER ||
                         cc == CURLE_SSL_CONNECT_ERROR || cc == CURLE_SSL_ENGINE_NOTFOUND ||
                         cc == CURLE_SSL_PINNEDPUBKEYNOTMATCH || cc == CURLE_SSL_CRL_BADFILE ||
                         cc == CURLE_SSL_ISSUER_ERROR || cc == CURLE_UNSUPPORTED_PROTOCOL ||
                         r->body.error;
            if (cc == CURLE_ABORTED_BY_CALLBACK) {
                snprintf(err, errsize, "schema registry %s: request aborted", r->shown[i]);
                return TW_REG_UNAVAILABLE;
            }
            snprintf(err, errsize, "schema registry %s: %s", r->shown[i], why);
            if (config)
                return TW_REG_ERROR;
            continue;
        }
        curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, status);
        r->last_status = *status;
        char msg[512];
        reg_message(&r->body, msg, sizeof msg);
        if (*status >= 500 || *status == 408 || *status == 429) {
            snprintf(err, errsize, "schema registry %s: HTTP %ld%s", r->shown[i], *status, msg);
            continue;
        }
        r->current = i;
        if (*status >= 200 && *status < 300)
            return TW_REG_OK;
        if (*status == 401 || *status == 403) {
            snprintf(err, errsize,
                     "schema registry %s refused the credentials (HTTP %ld%s); check "
                     "schema.registry.basic.auth.user.info",
                     r->shown[i], *status, msg);
            return TW_REG_AUTH;
        }
        snprintf(err, errsize, "schema registry %s: HTTP %ld%s", r->shown[i], *status, msg);
        if (*status == 409)
            return TW_REG_INCOMPATIBLE;
        if (*status == 422) {
            /* 42201 is "invalid schema"; others (42205: the subject is in
             * a read-only mode, ...) are not about the schema. */
            json_t *j = json_loadb((const char *)r->body.data, r->body.len, 0, NULL);
            json_t *code = json_object_get(j, "error_code");
            int invalid = !json_is_integer(code) || json_integer_value(code) == 42201 ||
                          json_integer_value(code) == 422;
            json_decref(j);
            return invalid ? TW_REG_INVALID : TW_REG_ERROR;
        }
        if (*status == 404)
            return TW_REG_NOT_FOUND;
        return TW_REG_ERROR;
    }
    return TW_REG_UNAVAILABLE;
}

/* request(), counted. */
static tw_reg_status counted(tw_registry *r, const char *path, const char *body, long *status,
                             char *err, size_t errsize)
{
    tw_reg_status st = request(r, path, body, status, err, errsize);
    r->counts[st]++;
    return st;
}

void tw_registry_counts(const tw_registry *r, uint64_t counts[TW_REG_ERROR + 1])
{
    memcpy(counts, r->counts, sizeof r->counts);
}

static json_t *parse_body(tw_registry *r)
{
    return json_loadb((const char *)r->body.data, r->body.len, 0, NULL);
}

tw_reg_status tw_registry_register(tw_registry *r, const char *subject, const char *schema,
                                   size_t len, int32_t *id, char *err, size_t errsize)
{
    err[0] = '\0';
    uint8_t digest[32];
    tw_sha256(schema, len, digest);
    for (size_t i = 0; i < r->nreg; i++)
        if (memcmp(r->reg[i].digest, digest, 32) == 0 && strcmp(r->reg[i].subject, subject) == 0) {
            *id = r->reg[i].id;
            return TW_REG_OK;
        }
    if (r->nreg == r->capreg) {
        size_t ncap = r->capreg ? r->capreg * 2 : 32;
        reg_entry *n = realloc(r->reg, ncap * sizeof *n);
        if (!n) {
            snprintf(err, errsize, "schema registry: out of memory");
            return TW_REG_ERROR;
        }
        r->reg = n;
        r->capreg = ncap;
    }
    char *esc = curl_easy_escape(r->easy, subject, 0);
    json_t *req = json_pack("{s:s%}", "schema", schema, len);
    char *body = req ? json_dumps(req, JSON_COMPACT) : NULL;
    char *subj = strdup(subject);
    json_decref(req);
    tw_reg_status st = TW_REG_ERROR;
    if (!esc || !body || !subj) {
        snprintf(err, errsize, "schema registry: out of memory");
        goto done;
    }
    char path[1024];
    snprintf(path, sizeof path, "/subjects/%s/versions", esc);
    long status = 0;
    st = counted(r, path, body, &status, err, errsize);
    if (st != TW_REG_OK) {
        if (st != TW_REG_UNAVAILABLE && st != TW_REG_AUTH) {
            size_t n = strlen(err);
            snprintf(err + n, errsize - n, " (subject %s)", subject);
        }
        goto done;
    }
    json_t *j = parse_body(r);
    json_t *jid = json_object_get(j, "id");
    if (!json_is_integer(jid) || json_integer_value(jid) < 0 ||
        json_integer_value(jid) > INT32_MAX) {
        /* r->body is not NUL-terminated: only its len bytes are this answer. */
        snprintf(err, errsize,
                 "schema registry %s answered the registration of subject %s without an id: "
                 "%.*s",
                 r->shown[r->current], subject, (int)(r->body.len > 200 ? 200 : r->body.len),
                 r->body.len ? (const char *)r->body.data : "");
        json_decref(j);
        st = TW_REG_ERROR;
        goto done;
    }
    *id = (int32_t)json_integer_value(jid);
    json_decref(j);
    reg_entry *e = &r->reg[r->nreg++];
    e->subject = subj;
    subj = NULL;
    memcpy(e->digest, digest, 32);
    e->id = *id;
done:
    curl_free(esc);
    free(body);
    free(subj);
    return st;
}

tw_reg_status tw_registry_schema(tw_registry *r, int32_t id, const char **schema, char *err,
                                 size_t errsize)
{
    err[0] = '\0';
    for (size_t i = 0; i < r->nids; i++)
        if (r->ids[i].id == id) {
            *schema = r->ids[i].schema;
            return TW_REG_OK;
        }
    if (r->nids == r->capids) {
        size_t ncap = r->capids ? r->capids * 2 : 16;
        id_entry *n = realloc(r->ids, ncap * sizeof *n);
        if (!n) {
            snprintf(err, errsize, "schema registry: out of memory");
            return TW_REG_ERROR;
        }
        r->ids = n;
        r->capids = ncap;
    }
    char path[64];
    snprintf(path, sizeof path, "/schemas/ids/%ld", (long)id);
    long status = 0;
    tw_reg_status st = counted(r, path, NULL, &status, err, errsize);
    if (st == TW_REG_NOT_FOUND) {
        size_t n = strlen(err);
        snprintf(err + n, errsize - n, " (schema id %ld)", (long)id);
    }
    if (st != TW_REG_OK)
        return st;
    json_t *j = parse_body(r);
    const char *s = json_string_value(json_object_get(j, "schema"));
    char *copy = s ? strdup(s) : NULL;
    json_decref(j);
    if (!copy) {
        snprintf(err, errsize, "schema registry %s: no schema in the answer for id %ld",
                 r->shown[r->current], (long)id);
        return TW_REG_ERROR;
    }
    r->ids[r->nids].id = id;
    r->ids[r->nids++].schema = copy;
    *schema = copy;
    return TW_REG_OK;
}

tw_reg_status tw_registry_ping(tw_registry *r, char *err, size_t errsize)
{
    err[0] = '\0';
    long status = 0;
    return counted(r, "/config", NULL, &status, err, errsize);
}
