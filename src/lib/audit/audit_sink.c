/*
 * A copy of every audit line for syslog or journald (audit.h, arca_audit_sink_*): one datagram
 * per line to a unix datagram socket, normally /dev/log, which both syslog daemons and
 * systemd-journald serve. syslog(3) cannot be pointed at another socket, which the tests need,
 * and the line is already formatted, so this is the few lines of the protocol it needs:
 *   <PRI>IDENT[PID]: LINE
 * with PRI = LOG_DAEMON | LOG_INFO. Best effort by design: the signed file is the record, so a
 * full or absent receiver must not stall or fail the audit writer; sends never block, and a
 * line that cannot be sent is counted (arca_audit_sink_dropped), after one reconnect attempt
 * (the daemon may have restarted).
 */
#include "audit/audit.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "base/err.h"

#define SINK_PRI 30 /* LOG_DAEMON (3) * 8 + LOG_INFO (6) */

struct arca_audit_sink {
    int fd;
    struct sockaddr_un addr;
    char prefix[96]; /* "<30>IDENT[PID]: " */
    size_t prefix_len;
    uint64_t dropped;
};

static int sink_connect(struct arca_audit_sink *s)
{
    if (s->fd >= 0)
        close(s->fd);
    s->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    ARCA_ENSURE(s->fd >= 0, ARCA_ERR_IO, "audit syslog: socket: %s", strerror(errno));
    if (connect(s->fd, (const struct sockaddr *)&s->addr, sizeof(s->addr)) != 0) {
        int e = errno;
        close(s->fd);
        s->fd = -1;
        return arca_err_set(ARCA_ERR_IO, "audit syslog socket %s: %s", s->addr.sun_path,
                            strerror(e));
    }
    return 0;
}

int arca_audit_sink_open(const char *socket_path, const char *ident, struct arca_audit_sink **out)
{
    ARCA_ENSURE(socket_path != NULL && ident != NULL && out != NULL, ARCA_ERR_INVALID_ARG,
                "audit syslog: missing argument");
    struct arca_audit_sink *s = calloc(1, sizeof(*s));
    ARCA_ENSURE(s != NULL, ARCA_ERR_ALLOC, "audit syslog: out of memory");
    s->fd = -1;
    s->addr.sun_family = AF_UNIX;
    size_t n = strlen(socket_path);
    int pn =
        snprintf(s->prefix, sizeof(s->prefix), "<%d>%.48s[%ld]: ", SINK_PRI, ident, (long)getpid());
    if (n == 0 || n >= sizeof(s->addr.sun_path) || pn <= 0 || (size_t)pn >= sizeof(s->prefix)) {
        free(s);
        return arca_err_set(ARCA_ERR_INVALID_ARG, "audit syslog socket %s: path too long",
                            socket_path);
    }
    memcpy(s->addr.sun_path, socket_path, n);
    s->prefix_len = (size_t)pn;
    int rc = sink_connect(s);
    if (rc < 0) {
        free(s);
        return rc;
    }
    *out = s;
    return 0;
}

void arca_audit_sink_send(struct arca_audit_sink *s, const char *line, size_t len)
{
    if (s == NULL)
        return;
    struct iovec iov[2] = {{s->prefix, s->prefix_len}, {(void *)line, len}};
    struct msghdr mh = {.msg_iov = iov, .msg_iovlen = 2};
    for (int attempt = 0; attempt < 2; attempt++) {
        if (s->fd >= 0 && sendmsg(s->fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL) >= 0)
            return;
        if (s->fd >= 0 && errno != ECONNREFUSED && errno != ENOTCONN)
            break; /* full (EAGAIN) or too long (EMSGSIZE): drop, do not wait */
        if (attempt == 0 && sink_connect(s) < 0) {
            arca_err_clear();
            break;
        }
    }
    s->dropped++;
}

uint64_t arca_audit_sink_dropped(const struct arca_audit_sink *s)
{
    return s != NULL ? s->dropped : 0;
}

void arca_audit_sink_free(struct arca_audit_sink *s)
{
    if (s == NULL)
        return;
    if (s->fd >= 0)
        close(s->fd);
    free(s);
}
