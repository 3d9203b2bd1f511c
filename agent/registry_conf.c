#include "agent/registry_conf.h"

#include "agent/config.h"

tw_registry *tw_registry_from_config(const tw_config *cfg, char *err, size_t errsize)
{
    err[0] = '\0';
    const char *url = tw_config_str(cfg, TW_CFG_SCHEMA_REGISTRY_URL);
    if (!url || !url[0])
        return NULL;
    tw_registry_opts o = {
        .urls = url,
        .user_info = tw_config_str(cfg, TW_CFG_SCHEMA_REGISTRY_BASIC_AUTH_USER_INFO),
        .ca_file = tw_config_str(cfg, TW_CFG_SCHEMA_REGISTRY_SSL_CA_LOCATION),
        .cert_file = tw_config_str(cfg, TW_CFG_SCHEMA_REGISTRY_SSL_CERTIFICATE_LOCATION),
        .key_file = tw_config_str(cfg, TW_CFG_SCHEMA_REGISTRY_SSL_KEY_LOCATION),
        .key_password = tw_config_str(cfg, TW_CFG_SCHEMA_REGISTRY_SSL_KEY_PASSWORD),
        .timeout_ms = (int)tw_config_int(cfg, TW_CFG_SCHEMA_REGISTRY_TIMEOUT_MS),
    };
    return tw_registry_new(&o, err, errsize);
}
