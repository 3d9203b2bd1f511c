#include "schemas/avro_pcf.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

static const char *const primitives[] = {"null",  "boolean", "int",   "long",
                                         "float", "double",  "bytes", "string"};

static int is_primitive(const char *s)
{
    for (size_t i = 0; i < sizeof primitives / sizeof primitives[0]; i++)
        if (strcmp(s, primitives[i]) == 0)
            return 1;
    return 0;
}

/* Fullname of name under namespace ns. */
static void fullname(const char *name, const char *ns, char *out, size_t outsize)
{
    if (strchr(name, '.') || !ns || !ns[0])
        snprintf(out, outsize, "%s", name);
    else
        snprintf(out, outsize, "%s.%s", ns, name);
}

static int canon(json_t *s, const char *ns, tw_buf *b, int depth, char *err, size_t errsize)
{
    if (depth > 64) {
        snprintf(err, errsize, "schema nested too deeply");
        return -1;
    }
    if (json_is_string(s)) {
        const char *v = json_string_value(s);
        char full[512];
        if (is_primitive(v))
            tw_buf_json_string(b, v);
        else {
            fullname(v, ns, full, sizeof full);
            tw_buf_json_string(b, full);
        }
        return 0;
    }
    if (json_is_array(s)) {
        tw_buf_putc(b, '[');
        size_t i;
        json_t *v;
        json_array_foreach(s, i, v)
        {
            if (i)
                tw_buf_putc(b, ',');
            if (canon(v, ns, b, depth + 1, err, errsize) != 0)
                return -1;
        }
        tw_buf_putc(b, ']');
        return 0;
    }
    if (!json_is_object(s)) {
        snprintf(err, errsize, "a schema is a string, an array or an object");
        return -1;
    }
    const char *type = json_string_value(json_object_get(s, "type"));
    if (!type) {
        snprintf(err, errsize, "a schema object without a string \"type\"");
        return -1;
    }
    if (is_primitive(type)) {
        tw_buf_json_string(b, type);
        return 0;
    }
    int named = strcmp(type, "record") == 0 || strcmp(type, "error") == 0 ||
                strcmp(type, "enum") == 0 || strcmp(type, "fixed") == 0;
    char full[512], inner_ns[512];
    inner_ns[0] = '\0';
    tw_buf_putc(b, '{');
    if (named) {
        const char *name = json_string_value(json_object_get(s, "name"));
        const char *own_ns = json_string_value(json_object_get(s, "namespace"));
        if (!name) {
            snprintf(err, errsize, "a %s without a name", type);
            return -1;
        }
        fullname(name, own_ns && !strchr(name, '.') ? own_ns : ns, full, sizeof full);
        const char *dot = strrchr(full, '.');
        if (dot)
            snprintf(inner_ns, sizeof inner_ns, "%.*s", (int)(dot - full), full);
        tw_buf_puts(b, "\"name\":");
        tw_buf_json_string(b, full);
        tw_buf_putc(b, ',');
    }
    tw_buf_puts(b, "\"type\":");
    tw_buf_json_string(b, strcmp(type, "error") == 0 ? "record" : type);
    const char *use_ns = named ? inner_ns : ns;
    if (strcmp(type, "record") == 0 || strcmp(type, "error") == 0) {
        json_t *fields = json_object_get(s, "fields");
        if (!json_is_array(fields)) {
            snprintf(err, errsize, "record %s without fields", full);
            return -1;
        }
        tw_buf_puts(b, ",\"fields\":[");
        size_t i;
        json_t *f;
        json_array_foreach(fields, i, f)
        {
            const char *fname = json_string_value(json_object_get(f, "name"));
            if (!fname) {
                snprintf(err, errsize, "a field of %s without a name", full);
                return -1;
            }
            tw_buf_puts(b, i ? ",{\"name\":" : "{\"name\":");
            tw_buf_json_string(b, fname);
            tw_buf_puts(b, ",\"type\":");
            if (canon(json_object_get(f, "type"), use_ns, b, depth + 1, err, errsize) != 0)
                return -1;
            tw_buf_putc(b, '}');
        }
        tw_buf_putc(b, ']');
    } else if (strcmp(type, "enum") == 0) {
        tw_buf_puts(b, ",\"symbols\":[");
        size_t i;
        json_t *v;
        json_array_foreach(json_object_get(s, "symbols"), i, v)
        {
            if (i)
                tw_buf_putc(b, ',');
            tw_buf_json_string(b, json_string_value(v) ? json_string_value(v) : "");
        }
        tw_buf_putc(b, ']');
    } else if (strcmp(type, "array") == 0 || strcmp(type, "map") == 0) {
        int arr = type[0] == 'a';
        tw_buf_puts(b, arr ? ",\"items\":" : ",\"values\":");
        if (canon(json_object_get(s, arr ? "items" : "values"), use_ns, b, depth + 1, err,
                  errsize) != 0)
            return -1;
    } else if (strcmp(type, "fixed") == 0) {
        tw_buf_printf(b, ",\"size\":%lld",
                      (long long)json_integer_value(json_object_get(s, "size")));
    } else if (!named) {
        /* {"type":"Name"}: a reference written as an object. */
        tw_buf_truncate(b, b->len - strlen("{\"type\":") - strlen(type) - 2);
        char ref[512];
        fullname(type, ns, ref, sizeof ref);
        tw_buf_json_string(b, ref);
        return 0;
    }
    tw_buf_putc(b, '}');
    return 0;
}

int avro_pcf(const char *json, size_t len, tw_buf *out, char *err, size_t errsize)
{
    json_error_t je;
    json_t *s = json_loadb(json, len, JSON_DECODE_ANY, &je);
    if (!s) {
        snprintf(err, errsize, "schema is not JSON: %s (line %d)", je.text, je.line);
        return -1;
    }
    int rc = canon(s, "", out, 0, err, errsize);
    json_decref(s);
    if (rc == 0 && out->error) {
        snprintf(err, errsize, "%s", tw_buf_strerror(out));
        rc = -1;
    }
    return rc;
}

int avro_pcf_fingerprint(const char *json, size_t len, uint64_t *fp, char *err, size_t errsize)
{
    tw_buf b;
    tw_buf_init(&b, 0);
    int rc = avro_pcf(json, len, &b, err, errsize);
    if (rc == 0)
        *fp = avro_crc64(b.data, b.len);
    tw_buf_free(&b);
    return rc;
}
