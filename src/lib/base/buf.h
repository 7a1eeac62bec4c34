/*
 * Bounded byte buffers (OpenSSH's sshbuf, curl's dynbuf, s2n's stuffer).
 *
 * struct arca_buf is an owned, growable byte array with a hard maximum fixed at init: every
 * append either fits under the maximum or fails with ARCA_ERR_TOO_LARGE and leaves the buffer
 * unchanged. A buffer marked secret (arca_buf_init_secret) is wiped whenever its memory is
 * released or moved, so it can hold keys and secret values.
 *
 * struct arca_cur is a read cursor over borrowed bytes; all parsing of untrusted input goes
 * through it. Getters fail with ARCA_ERR_TRUNCATED without moving the cursor when not enough
 * bytes remain.
 *
 * The buffer keeps one spare NUL byte after its contents, so arca_buf_cstr() is always a valid
 * C string (contents may hold NULs of their own; use len).
 */
#ifndef ARCA_BASE_BUF_H
#define ARCA_BASE_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ARCA_BUF_MAX_DEFAULT ((size_t)64 << 20) /* 64 MiB */

struct arca_buf {
    uint8_t *data; /* owned; NULL while empty */
    size_t len;
    size_t cap;
    size_t max;
    bool secret;
};

/* Initialises an empty buffer whose length may never exceed max (0 = ARCA_BUF_MAX_DEFAULT).
 * Nothing is allocated until the first append; release with arca_buf_free(). */
void arca_buf_init(struct arca_buf *b, size_t max);
/* As arca_buf_init, and every release of its memory wipes it first. */
void arca_buf_init_secret(struct arca_buf *b, size_t max);
/* Releases the memory (wiping it if secret) and re-initialises b empty with the same max. */
void arca_buf_free(struct arca_buf *b);
/* Sets len to 0 (wiping the old contents if secret); keeps the memory. */
void arca_buf_reset(struct arca_buf *b);

/* Ensures room for n more bytes. 0, or ARCA_ERR_TOO_LARGE / ARCA_ERR_ALLOC. */
int arca_buf_reserve(struct arca_buf *b, size_t n);
/* Appends; 0 or a negative code, the buffer unchanged on failure. */
int arca_buf_put(struct arca_buf *b, const void *p, size_t n);
int arca_buf_put_u8(struct arca_buf *b, uint8_t v);
int arca_buf_put_u16be(struct arca_buf *b, uint16_t v);
int arca_buf_put_u32be(struct arca_buf *b, uint32_t v);
int arca_buf_put_u64be(struct arca_buf *b, uint64_t v);
int arca_buf_put_u16le(struct arca_buf *b, uint16_t v);
int arca_buf_put_u32le(struct arca_buf *b, uint32_t v);
/* Appends a C string without its NUL. */
int arca_buf_put_str(struct arca_buf *b, const char *s);
/* Appends printf output. */
int arca_buf_printf(struct arca_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends a u32be length followed by the bytes (an unambiguous framing for hashing). */
int arca_buf_put_lv(struct arca_buf *b, const void *p, size_t n);

/* The contents as a NUL-terminated string (borrowed, valid until the next change of b;
 * "" when empty). */
const char *arca_buf_cstr(const struct arca_buf *b);

/* Moves the contents out: *out gets a malloc'ed NUL-terminated copy the caller frees (with
 * arca_wipe_free if secret), *len its length; b is left empty. */
int arca_buf_steal(struct arca_buf *b, char **out, size_t *len);

/* Read cursor over borrowed bytes. */
struct arca_cur {
    const uint8_t *p;
    size_t len;
    size_t off;
};

void arca_cur_init(struct arca_cur *c, const void *p, size_t len);
size_t arca_cur_left(const struct arca_cur *c);
bool arca_cur_done(const struct arca_cur *c);
int arca_cur_skip(struct arca_cur *c, size_t n);
int arca_cur_get_u8(struct arca_cur *c, uint8_t *v);
int arca_cur_get_u16le(struct arca_cur *c, uint16_t *v);
int arca_cur_get_u32le(struct arca_cur *c, uint32_t *v);
int arca_cur_get_u64le(struct arca_cur *c, uint64_t *v);
int arca_cur_get_u16be(struct arca_cur *c, uint16_t *v);
int arca_cur_get_u32be(struct arca_cur *c, uint32_t *v);
int arca_cur_get_u64be(struct arca_cur *c, uint64_t *v);
/* Copies n bytes out. */
int arca_cur_get(struct arca_cur *c, void *out, size_t n);
/* Borrows n bytes: *p points into the cursor's memory (valid as long as that memory is). */
int arca_cur_get_ptr(struct arca_cur *c, const uint8_t **p, size_t n);
/* Borrows n bytes as a sub-cursor. */
int arca_cur_get_sub(struct arca_cur *c, struct arca_cur *sub, size_t n);

/* Wipes memory so that the compiler cannot elide it. */
void arca_wipe(void *p, size_t n);
/* Wipes n bytes at p, then frees p. NULL is fine. */
void arca_wipe_free(void *p, size_t n);
/* Wipes a NUL-terminated string and frees it. NULL is fine. */
void arca_wipe_free_str(char *s);

#endif
