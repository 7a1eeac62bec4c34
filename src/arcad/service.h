/*
 * arcad as a system service (docs/operations.md): systemd readiness notification and the pid
 * file. No libsystemd: the notification protocol is one datagram on $NOTIFY_SOCKET.
 */
#ifndef ARCAD_SERVICE_H
#define ARCAD_SERVICE_H

/*
 * Sends state ("READY=1", "RELOADING=1", "STOPPING=1", ...) to the service manager when
 * $NOTIFY_SOCKET names one (a path, or "@name" for the abstract namespace); without it does
 * nothing and returns 0. ARCA_ERR_INVALID_ARG for an unusable socket name, ARCA_ERR_IO if the
 * datagram cannot be sent.
 */
int arcad_notify(const char *state);

/* Replaces path atomically with this process's pid and a newline (mode 0644). 0 or the code of
 * arca_file_write with its detail. */
int arcad_pidfile_write(const char *path);

#endif
