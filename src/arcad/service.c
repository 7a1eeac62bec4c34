/*
 * systemd's notification protocol (sd_notify(3)): the state string is sent as one datagram to
 * the AF_UNIX socket named by $NOTIFY_SOCKET. Written here in a few lines instead of linking
 * libsystemd, so arcad has no new dependency and runs the same without systemd.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "base/err.h"
#include "base/fs.h"
#include "service.h"

int arcad_notify(const char *state)
{
    ARCA_ENSURE_REF(state);
    const char *name = getenv("NOTIFY_SOCKET");
    if (name == NULL || name[0] == '\0')
        return 0;
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    size_t n = strlen(name);
    ARCA_ENSURE((name[0] == '/' || name[0] == '@') && n < sizeof(sa.sun_path), ARCA_ERR_INVALID_ARG,
                "NOTIFY_SOCKET: not a socket path or @name");
    memcpy(sa.sun_path, name, n);
    if (sa.sun_path[0] == '@')
        sa.sun_path[0] = '\0'; /* abstract namespace */
    socklen_t len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    ARCA_ENSURE(fd >= 0, ARCA_ERR_IO, "NOTIFY_SOCKET: socket: %s", strerror(errno));
    ssize_t w = sendto(fd, state, strlen(state), MSG_NOSIGNAL, (struct sockaddr *)&sa, len);
    int e = errno;
    close(fd);
    ARCA_ENSURE(w == (ssize_t)strlen(state), ARCA_ERR_IO, "NOTIFY_SOCKET %s: %s", name,
                w < 0 ? strerror(e) : "short send");
    return 0;
}

int arcad_pidfile_write(const char *path)
{
    ARCA_ENSURE_REF(path);
    char line[32];
    int n = snprintf(line, sizeof(line), "%ld\n", (long)getpid());
    return arca_file_write(path, line, (size_t)n, 0644, 0);
}
