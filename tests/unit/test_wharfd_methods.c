/* Unit tests for the method registry and params helpers of wharfd's
 * JSON-RPC methods (fcgi_backend/methods.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "../../fcgi_backend/methods.h"

static void
test_params_helpers(void **state)
{
    struct wharfd_rpc_error err;
    const char *s;
    json_t *obj, *p;

    (void) state;
    assert_non_null(wharfd_methods_lookup("ContainerMonitoringOps.heartbeat"));
    assert_non_null(wharfd_methods_lookup("ContainerMonitoringOps.getWorkers"));
    assert_null(wharfd_methods_lookup("heartbeat"));
    assert_null(wharfd_methods_lookup("ContainerMonitoringOps.nope"));
    assert_null(wharfd_methods_lookup("Other.heartbeat"));

    p = json_pack("{s:s,s:i,s:s}", "worker", "Bad", "n", 1, "empty", "");
    assert_int_equal(wharfd_params_object(p, &obj, &err), 0);
    memset(&err, 0, sizeof(err));
    assert_int_equal(wharfd_param_worker(obj, "worker", &s, &err), -1);
    assert_int_equal(err.code, WHARFD_RPC_INVALID_PARAMS);
    assert_string_equal(err.field, "worker");
    assert_int_equal(wharfd_param_string(obj, "n", 0, 10, &s, &err), -1);
    assert_string_equal(err.field, "n");
    assert_int_equal(wharfd_param_string(obj, "empty", 0, 10, &s, &err), -1);
    assert_int_equal(wharfd_param_string(obj, "absent", 0, 10, &s, &err), 0);
    assert_null(s);
    assert_int_equal(wharfd_param_string(obj, "absent", 1, 10, &s, &err), -1);
    assert_non_null(strstr(err.message, "'absent' is required"));
    json_decref(p);

    p = json_pack("[s]", "x");
    assert_int_equal(wharfd_params_object(p, &obj, &err), -1);
    assert_string_equal(err.field, "params");
    json_decref(p);
    p = json_array();
    assert_int_equal(wharfd_params_object(p, &obj, &err), 0);
    assert_null(obj);
    json_decref(p);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_params_helpers),
    };
    return cmocka_run_group_tests_name("wharfd_methods", tests, NULL, NULL);
}
