/* The JSON config file: see appconfig.h. */
#include "appconfig.h"

#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "agent.h"

int
agent_appconfig_load(struct agent *agent, const char *path,
                     unsigned long long *autostart, char *err, size_t errlen)
{
    json_error_t jerr;
    json_t *root, *v, *item;
    const char *key;
    struct agent_proc_spec spec;
    struct agent_proc *p;
    char why[256];
    size_t i;
    int rc = -1;

    root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL) {
        snprintf(err, errlen, "%s:%d: %s", path, jerr.line, jerr.text);
        return -1;
    }
    if (!json_is_object(root)) {
        snprintf(err, errlen, "%s: must be a JSON object", path);
        goto out;
    }
    json_object_foreach (root, key, v) {
        if (strcmp(key, "processes") != 0 && strcmp(key, "errorPatterns") != 0
            && strcmp(key, "fatalRestart") != 0) {
            snprintf(err, errlen, "%s: unknown member \"%s\"", path, key);
            goto out;
        }
    }
    v = json_object_get(root, "fatalRestart");
    if (v != NULL) {
        if (!json_is_boolean(v)) {
            snprintf(err, errlen, "%s: fatalRestart must be true or false",
                     path);
            goto out;
        }
        agent->cfg.fatal_restart = json_is_true(v);
    }
    v = json_object_get(root, "errorPatterns");
    if (v != NULL) {
        if (!json_is_array(v)) {
            snprintf(err, errlen, "%s: errorPatterns must be an array", path);
            goto out;
        }
        if (json_array_size(v) == 0) {
            memset(&agent->detect.plain, 0, sizeof(agent->detect.plain));
        }
        json_array_foreach (v, i, item) {
            if (!json_is_string(item)
                || agent_detect_add_plain(&agent->detect,
                                          json_string_value(item), i == 0)
                    != 0) {
                snprintf(err, errlen,
                         "%s: errorPatterns[%zu] must be a "
                         "string of 1..%d bytes (at most %d patterns)",
                         path, i, AGENT_DETECT_PATTERN_LEN_MAX,
                         AGENT_DETECT_PATTERNS_MAX);
                goto out;
            }
        }
    }
    v = json_object_get(root, "processes");
    if (v != NULL && !json_is_array(v)) {
        snprintf(err, errlen, "%s: processes must be an array", path);
        goto out;
    }
    json_array_foreach (v, i, item) {
        json_t *start = json_object_get(item, "start");

        if (agent_proc_spec_from_json(item, &spec, why, sizeof(why)) != 0) {
            snprintf(err, errlen, "%s: processes[%zu]: %s", path, i, why);
            goto out;
        }
        p = agent_proc_create(&agent->sup, &spec, why, sizeof(why));
        if (p == NULL) {
            agent_proc_spec_free(&spec);
            snprintf(err, errlen, "%s: processes[%zu]: %s", path, i, why);
            goto out;
        }
        if (start == NULL || json_is_true(start)) {
            *autostart |= 1ull << p->index;
        }
    }
    rc = 0;
out:
    json_decref(root);
    return rc;
}
