/*
 * REST calls to the orchestrator and the printing of their answers.
 */
#ifndef CTL_REST_H
#define CTL_REST_H

#include <jansson.h>

#include "ctl.h"

/*
 * GET path and print the answer in the chosen format, --format table by
 * table(c, value) (NULL: ctl_print_table's own shape). A non-2xx answer
 * is CTL_FAIL with a message on err; its body is still printed when it is
 * not an {"error":...} object (an unhealthy health check says why in its
 * body), and always with --format raw.
 */
int ctl_rest_show(struct ctl *c, const char *what, const char *path,
                  void (*table)(struct ctl *c, json_t *value));

#endif
