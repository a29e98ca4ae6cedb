/* redis_slot.c - hash slots and key positions for the cluster router. */
#include <string.h>
#include <strings.h>
#include <stdlib.h>
#include "lib/redis_slot.h"

/* Bitwise CRC16 with polynomial 0x1021 and initial value 0: keys are
 * short, so a table would buy little. */
unsigned redis_crc16(const char *buf, size_t len) {
    unsigned crc = 0;
    for (size_t i = 0; i < len; i++) {
        crc ^= (unsigned)(unsigned char)buf[i] << 8;
        for (int b = 0; b < 8; b++)
            crc = (crc & 0x8000) ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
    }
    return crc;
}

/* The hash tag rule of the cluster spec. */
unsigned redis_key_slot(const char *key, size_t len) {
    size_t s, e;
    for (s = 0; s < len && key[s] != '{'; s++) {}
    if (s < len) {
        for (e = s + 1; e < len && key[e] != '}'; e++) {}
        if (e < len && e > s + 1) return redis_crc16(key + s + 1, e - s - 1) & (REDIS_SLOTS - 1);
    }
    return redis_crc16(key, len) & (REDIS_SLOTS - 1);
}

/* Case-insensitive compare of argument I with WORD. */
static int arg_is(const char **argv, const size_t *lens, int i, const char *word) {
    size_t n = lens ? lens[i] : strlen(argv[i]);
    return n == strlen(word) && !strncasecmp(argv[i], word, n);
}

/* Commands without keys; anything not listed here or below takes argv[1]. */
static const char *const keyless[] = {
    "PING", "CLIENT", "CLUSTER", "INFO", "TIME", "SCRIPT", "ASKING", "AUTH", "SELECT",
    "READONLY", "READWRITE", "HELLO", "ECHO", "DBSIZE", "CONFIG", "COMMAND", "FLUSHALL",
    "FLUSHDB", "ROLE", "LASTSAVE", "WAIT", "MULTI", "EXEC", "DISCARD", "PUBLISH", NULL
};

int redis_command_key_index(int argc, const char **argv, const size_t *lens) {
    if (argc < 2) return -1;
    for (int k = 0; keyless[k]; k++)
        if (arg_is(argv, lens, 0, keyless[k])) return -1;
    if (arg_is(argv, lens, 0, "EVAL") || arg_is(argv, lens, 0, "EVALSHA") ||
        arg_is(argv, lens, 0, "EVAL_RO") || arg_is(argv, lens, 0, "EVALSHA_RO") ||
        arg_is(argv, lens, 0, "FCALL")) {
        if (argc < 4) return -1;
        char num[24];
        size_t n = lens ? lens[2] : strlen(argv[2]);
        if (n >= sizeof(num)) return -1;
        memcpy(num, argv[2], n);
        num[n] = '\0';
        return atol(num) > 0 ? 3 : -1;
    }
    if (arg_is(argv, lens, 0, "XREAD") || arg_is(argv, lens, 0, "XREADGROUP")) {
        for (int i = 1; i + 1 < argc; i++)
            if (arg_is(argv, lens, i, "STREAMS")) return i + 1;
        return -1;
    }
    /* XINFO STREAM key, XGROUP CREATE key group, OBJECT ENCODING key... */
    if (arg_is(argv, lens, 0, "XINFO") || arg_is(argv, lens, 0, "XGROUP") ||
        arg_is(argv, lens, 0, "OBJECT") || arg_is(argv, lens, 0, "MEMORY"))
        return argc > 2 ? 2 : -1;
    return 1;
}
