/*
 * Building the delivered configuration from arbitrary session text: whatever a session author
 * writes (commands, @@N, environment, injection files, placeholders), the builder either gives
 * valid JSON or a clean error.
 */
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "attest/launch_config.h"
#include "policy/session.h"
#include "secrets/secrets.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct arca_session *s = NULL;
    if (arca_session_load((const char *)data, size, "fuzz", &s, NULL) < 0)
        return 0;
    struct arca_secret_set *set = NULL;
    if (arca_secret_set_new(&set) == 0) {
        struct arca_secret_value *v = NULL;
        if (arca_secret_value_new_bytes(ARCA_SECRET_ASCII, "value", 5, 0, &v) == 0) {
            arca_secret_set_add(set, "a", 1, v);
            arca_secret_value_free(v);
        }
        static const char *argv[] = {"/prog", "x", "y"};
        static const char *names[] = {"HOME"};
        static const char *values[] = {"/root"};
        struct arca_launch_host host = {argv, 3, names, values, 1};
        for (size_t i = 0; i < s->n_services; i++) {
            struct arca_buf out;
            arca_buf_init_secret(&out, 0);
            struct arca_launch_config c;
            int rc = arca_launch_config_build(s, &s->services[i], &host, arca_secret_set_render,
                                              set, &c);
            if (rc == 0 && arca_launch_config_encode(&c, &out) != 0)
                __builtin_trap(); /* what the builder accepts, the wire can carry */
            arca_launch_config_free(&c);
            if (rc == 0) {
                json_t *j = json_loadb((const char *)out.data, out.len, 0, NULL);
                if (j == NULL)
                    __builtin_trap(); /* the builder must always produce valid JSON */
                json_decref(j);
                struct arca_launch_config back;
                (void)arca_launch_config_decode(out.data, out.len, &back);
                arca_launch_config_free(&back);
            }
            arca_buf_free(&out);
        }
    }
    arca_secret_set_free(set);
    arca_session_free(s);
    return 0;
}
