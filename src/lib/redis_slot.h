/* redis_slot.h - Redis Cluster hash slots: CRC16 of the key (or of its hash
 * tag) and where the key sits in the commands chorusd sends. */
#ifndef CHORUS_REDIS_SLOT_H
#define CHORUS_REDIS_SLOT_H
#include <stddef.h>

#define REDIS_SLOTS 16384

/* CRC16-CCITT (XMODEM), the checksum the cluster spec uses. */
unsigned redis_crc16(const char *buf, size_t len);
/* The slot of KEY: only the part between the first '{' and the next '}'
 * counts when that part is not empty. */
unsigned redis_key_slot(const char *key, size_t len);
/* Index in ARGV of the key that decides where the command goes, or -1 for
 * a command without keys (PING, CLIENT, CLUSTER, EVAL with 0 keys...). */
int redis_command_key_index(int argc, const char **argv, const size_t *lens);
#endif
