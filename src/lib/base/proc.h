/*
 * Process hygiene for the programs that hold secrets (arcad, arca-run).
 */
#ifndef ARCA_BASE_PROC_H
#define ARCA_BASE_PROC_H

/*
 * Makes the calling process non-dumpable (PR_SET_DUMPABLE 0: no core file, no ptrace attach or
 * /proc/PID/mem, environ, fd access by other processes of the same user) and sets RLIMIT_CORE
 * to 0 (soft and hard), so that no core file with keys or secret values is ever written. Call
 * at the start of main, before any secret is read. Both settings survive fork; execve resets
 * dumpability but keeps the core limit. Returns 0 or ARCA_ERR_IO naming the call that failed.
 */
int arca_proc_no_dumps(void);

#endif
