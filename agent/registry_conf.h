/*
 * registry_conf.h — the schema registry client (schemas/registry.h) as the
 * schema.registry.* configuration keys describe it.
 */
#ifndef TW_REGISTRY_CONF_H
#define TW_REGISTRY_CONF_H

#include "schemas/registry.h"

#include <stddef.h>

struct tw_config;

/* NULL with err[0] == '\0' when schema.registry.url is empty (no registry);
 * NULL with err set when the keys are unusable. The caller owns the result
 * (tw_registry_free). */
tw_registry *tw_registry_from_config(const struct tw_config *cfg, char *err, size_t errsize);

#endif
