/*
 * crc32c.h - CRC-32C (Castagnoli, polynomial 0x1EDC6F41, reflected 0x82F63B78),
 * the checksum of the log's record batches (the same one Kafka, iSCSI and
 * ext4 use).
 *
 * sl_crc32c uses the SSE4.2 crc32 instruction (x86-64, three interleaved
 * streams) or the ARMv8 CRC extension when the CPU has it, detected once
 * at run time, and a slicing-by-8 table otherwise. The value is the standard one: initial
 * value and final xor 0xFFFFFFFF, so sl_crc32c(0, "123456789", 9) is
 * 0xE3069283. To checksum in pieces, pass the previous result as crc.
 */
#ifndef SL_CRC32C_H
#define SL_CRC32C_H

#include <stddef.h>
#include <stdint.h>

uint32_t sl_crc32c(uint32_t crc, const void *data, size_t n);

/* The table-driven implementation, whatever the CPU (for tests and benches). */
uint32_t sl_crc32c_portable(uint32_t crc, const void *data, size_t n);

/* True when sl_crc32c runs on CPU instructions. */
int sl_crc32c_hardware(void);

#endif
