/* fuzz_echo - lo-echo's echo verifier fed arbitrary echoes: the check
 * lb_echo_rtt() makes on each echo (TCP: a full message compared; UDP: a datagram
 * of any length, stale() asking whether it is a late or duplicated echo
 * of an earlier message), mismatch() naming the first differing byte, and
 * fail()'s note. core/echo.c (the verifier) and applets/lo_echo.c (the
 * report) are compiled into this file, and the buffers are laid out as
 * rtt() lays them out (sb, rb, tmp in one block of 3 * SIZE + 1), here
 * from malloc so that ASan sees every byte past it.
 *
 * Input: byte 0: bit 0 UDP; bytes 1-2 SIZE - 1 (1..512); bytes 3-10 the
 * message number (little-endian); the rest is the echo (UDP: up to SIZE + 1
 * bytes, its length; TCP: SIZE bytes, padded with the expected message).
 */
#include "../../core/echo.c"
#include "../../applets/lo_echo.c"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	if (n < 11)
		return 0;
	int udp = d[0] & 1, code;
	size_t s = ((size_t)(d[1] | d[2] << 8) % 512) + 1, r = n - 11;
	uint64_t i = 0;
	for (int b = 0; b < 8; b++)
		i |= (uint64_t)d[3 + b] << (8 * b);
	static char name[] = "fuzz echo";
	struct check k = { .name = name, .type = udp ? SOCK_DGRAM : SOCK_STREAM };

	fz_reset("lo-echo");
	lb_echo.size = s;
	lb_echo.count = 1000;
	outlen = 0;
	uint8_t *sb = malloc(3 * s + 1), *rb = sb + s, *tmp = rb + s + 1;
	memset(sb, 0xee, 3 * s + 1);
	fill(sb, i, s);
	if (r > s + (size_t)udp)
		r = s + (size_t)udp;
	memcpy(rb, d + 11, r);
	if (!udp) {	/* TCP: a short echo is an EOF, not a verdict */
		memcpy(rb + r, sb + r, s - r);
		r = s;
	}

	int differs = r != s || memcmp(sb, rb, s), old = 0;
	code = FZ_CALL(old = udp && differs && stale(tmp, rb, r, i));
	FZ_ASSERT(code == -1, "stale() exited %d", code);
	if (old) {
		/* stale: it must be the exact echo of an earlier message */
		FZ_ASSERT(s >= 4 && r == s && i > 0, "stale with size %zu, %zu bytes, message %llu", s, r,
			  (unsigned long long)i);
		uint32_t low = rb[0] | rb[1] << 8 | rb[2] << 16 | (uint32_t)rb[3] << 24;
		uint64_t q = i - (uint32_t)((uint32_t)i - low);
		fill(tmp, q, s);
		FZ_ASSERT(q < i && !memcmp(tmp, rb, s), "not an earlier message");
	} else if (differs) {
		code = FZ_CALL(mismatch(&k, sb, rb, s, r, i));
		FZ_ASSERT(code == -1, "mismatch() exited %d", code);
		FZ_ASSERT(k.res == FAIL && k.code == EX_FAIL, "no failure recorded");
		FZ_ASSERT(memchr(k.note, 0, sizeof(k.note)), "note not terminated");
		char want[160], b1[24], b2[24], b3[24], b4[24];
		if (r != s) {
			snprintf(want, sizeof(want), "datagram %s: %s bytes came back", lb_utoa(b1, i),
				 lb_utoa(b2, r));
		} else {
			size_t j = 0;
			while (sb[j] == rb[j])
				j++;
			snprintf(want, sizeof(want), "echo differs at byte %s (message %s): sent %s, got %s",
				 lb_utoa(b1, i * s + j), lb_utoa(b2, i), lb_utoa(b3, sb[j]), lb_utoa(b4, rb[j]));
		}
		FZ_ASSERT(!strcmp(k.note, want), "note \"%s\", want \"%s\"", k.note, want);
		/* the report of it, as -J prints it: one JSON object */
		lb_opts.json = 1;
		k.n = 1;
		k.v[0] = k.v[1] = k.v[2] = k.v[3] = 1000;
		code = FZ_CALL(report(&k, 1, 0, k.code, lb_now_us()));
		FZ_ASSERT(code == -1, "report() exited %d", code);
	}
	free(sb);
	return 0;
}
