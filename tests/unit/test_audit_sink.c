/* The syslog/journald copy of audit lines (audit_sink.c): every line arrives, in order, as one
 * datagram "<30>IDENT[PID]: LINE" equal to the file's line; a receiver that is gone or full
 * drops lines without failing or blocking the writer; a socket nobody serves is refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "audit/audit.h"
#include "base/err.h"
#include "audit_test_util.h"

static int bind_dgram(const char *path)
{
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    struct timeval tv = {5, 0}; /* a missing datagram fails the test, not hangs it */
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    return fd;
}

static void test_lines_arrive_in_order(void **state)
{
    struct fx *f = *state;
    char sock[600];
    snprintf(sock, sizeof(sock), "%s/log.sock", f->dir);
    int rfd = bind_dgram(sock);
    struct arca_audit_sink *sink = NULL;
    assert_int_equal(arca_audit_sink_open(sock, "arcad-audit", &sink), 0);
    struct arca_audit_options o = {.path = f->path, .key = f->key, .store = f->store, .sink = sink};
    struct arca_audit *a = NULL;
    assert_int_equal(arca_audit_open(&o, &a), 0);
    for (int i = 0; i < 5; i++) {
        json_t *fl = json_pack("{s:s, s:i}", "session", "app/db", "i", i);
        assert_int_equal(arca_audit_append(a, ARCA_AUDIT_SESSION_READ, fl, NULL), 0);
        json_decref(fl);
    }
    char archived[4096];
    assert_int_equal(arca_audit_rotate(a, archived, sizeof(archived)), 0);
    arca_audit_close(a);

    /* the six lines of the first file, then the rotation line of the second */
    char prefix[64];
    snprintf(prefix, sizeof(prefix), "<30>arcad-audit[%ld]: ", (long)getpid());
    const char *files[] = {archived, f->path};
    for (int k = 0; k < 2; k++) {
        FILE *fp = fopen(files[k], "r");
        assert_non_null(fp);
        char line[8192], dg[8192 + 64];
        while (fgets(line, sizeof(line), fp) != NULL) {
            line[strcspn(line, "\n")] = '\0';
            ssize_t n = recv(rfd, dg, sizeof(dg) - 1, 0);
            assert_true(n > 0);
            dg[n] = '\0';
            assert_int_equal(strncmp(dg, prefix, strlen(prefix)), 0);
            assert_string_equal(dg + strlen(prefix), line);
        }
        fclose(fp);
    }
    assert_int_equal(arca_audit_sink_dropped(sink), 0);

    /* the receiver goes away: appends still succeed, the lines are counted as dropped */
    close(rfd);
    unlink(sock);
    a = NULL;
    assert_int_equal(arca_audit_open(&o, &a), 0);
    assert_int_equal(arca_audit_append(a, ARCA_AUDIT_SESSION_READ, NULL, NULL), 0);
    arca_audit_close(a);
    assert_true(arca_audit_sink_dropped(sink) >= 2);
    arca_audit_sink_free(sink);
}

static void test_full_receiver_does_not_block(void **state)
{
    struct fx *f = *state;
    char sock[600];
    snprintf(sock, sizeof(sock), "%s/full.sock", f->dir);
    int rfd = bind_dgram(sock); /* never read */
    struct arca_audit_sink *sink = NULL;
    assert_int_equal(arca_audit_sink_open(sock, "t", &sink), 0);
    char big[4000];
    memset(big, 'x', sizeof(big));
    for (int i = 0; i < 2000; i++)
        arca_audit_sink_send(sink, big, sizeof(big));
    assert_true(arca_audit_sink_dropped(sink) > 0);
    arca_audit_sink_free(sink);
    close(rfd);
}

static void test_nobody_listening(void **state)
{
    struct fx *f = *state;
    char sock[600];
    snprintf(sock, sizeof(sock), "%s/none.sock", f->dir);
    struct arca_audit_sink *sink = NULL;
    assert_int_equal(arca_audit_sink_open(sock, "t", &sink), ARCA_ERR_IO);
    assert_non_null(strstr(arca_err_detail(), sock));
    assert_null(sink);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_lines_arrive_in_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_full_receiver_does_not_block, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nobody_listening, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
