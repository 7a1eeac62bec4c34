/*
 * Small file-system helpers shared by the programs.
 */
#ifndef ARCA_BASE_FS_H
#define ARCA_BASE_FS_H

#include <sys/types.h>

/* mkdir -p: creates path and any missing parents with mode (existing directories are left as
 * they are). 0, or ARCA_ERR_IO naming the component that could not be made. */
int arca_mkdirs(const char *path, mode_t mode);

#endif
