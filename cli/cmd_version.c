/* wharfctl version */
#include "ctl.h"

#include <jansson.h>

#include "output.h"

static const char version_usage[] = "usage: wharfctl version\n"
                                    "\n"
                                    "Prints wharfctl's version.\n";

int
ctl_cmd_version(struct ctl *c, int argc, char **argv)
{
    static const char raw[] = CTL_VERSION "\n";
    const char *pos[1];
    json_t *v;
    int rc, npos;

    rc = ctl_flags_parse(c, "version", argc, argv, NULL, pos, &npos, 0);
    if (rc == CTL_HELP) {
        fputs(version_usage, c->out);
        return CTL_OK;
    }
    if (rc != CTL_OK) {
        return rc;
    }
    v = json_pack("{s:s}", "version", CTL_VERSION);
    ctl_output(c, v, raw, sizeof(raw) - 1, NULL);
    json_decref(v);
    return CTL_OK;
}
