/* Sealing hooks that are not simulation (store.h): the Gramine-SGX sealer is in
 * seal_gramine.c. */
#include "base/err.h"
#include "store/store.h"
