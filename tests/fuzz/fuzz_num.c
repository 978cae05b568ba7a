/* fuzz_num - lb_num and lb_secs, the numbers of every option: ports
 * (-p, max 65535), counts (-c, -n: max 2^32-1), sizes (-s, -B: K/M/G
 * suffixes, max 2^40), uids (-A: max 2^32-2), durations (-t, -w).
 *
 * Input: byte 0 picks the parser, the rest is the text. Each result is
 * compared with a model written from the contract (decimal digits only,
 * no sign, no space, no overflow, <= max; SECS: digits, an optional dot
 * and decimals, 0.001 to 86400 seconds, truncated to milliseconds).
 */
#include "fuzz.h"

static const struct { uint64_t max; int suffixes; } kind[] = {
	{ 65535, 0 }, { UINT32_MAX, 0 }, { 1ULL << 40, 1 }, { UINT32_MAX - 1, 0 },
	{ 86400, 0 }, { UINT64_MAX, 0 }, { UINT64_MAX, 1 },
};
#define NKIND (sizeof(kind) / sizeof(kind[0]))

/* the model: -1 or the value (saturating at 2^64) */
static int model_num(const char *s, uint64_t *out, uint64_t max, int suffixes)
{
	unsigned __int128 v = 0, lim = (unsigned __int128)1 << 64;
	size_t n = strlen(s), i = 0, mul = 0;

	if (suffixes && n > 1 && strchr("kKmMgG", s[n - 1]))
		mul = 10 * (strchr("KMG", s[n - 1] & ~0x20) - "KMG" + 1), n--;
	if (!n)
		return -1;
	for (; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (unsigned)(s[i] - '0');
		if (v > lim)
			v = lim;
	}
	v <<= mul;
	if (v > max)
		return -1;
	*out = (uint64_t)v;
	return 0;
}

static long model_secs(const char *s)
{
	const char *dot = strchr(s, '.');
	size_t n = dot ? (size_t)(dot - s) : strlen(s);
	uint64_t whole = 0, ms = 0;
	int digits = 0;

	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		whole = whole * 10 + (uint64_t)(s[i] - '0');
		if (whole > 86400)
			return -1;
	}
	if (dot)
		for (const char *f = dot + 1; *f; f++, digits++) {
			if (*f < '0' || *f > '9')
				return -1;
			if (digits < 3)
				ms = ms * 10 + (uint64_t)(*f - '0');
		}
	if (!n && !digits)
		return -1;	/* "", ".", no digit at all */
	for (; digits < 3; digits++)
		ms *= 10;
	uint64_t v = whole * 1000 + ms;
	if (v > 86400000)	/* the contract: at most 86400 seconds */
		return -1;
	return (long)v;
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	if (n < 1)
		return 0;
	char *s = fz_str(d + 1, n - 1);
	unsigned k = d[0] % (NKIND + 1);
	int code;

	fz_reset("fuzz");
	if (k < NKIND) {
		uint64_t got = 7, want = 7;
		int r, m = model_num(s, &want, kind[k].max, kind[k].suffixes);
		code = FZ_CALL(r = lb_num(s, &got, kind[k].max, kind[k].suffixes));
		FZ_ASSERT(code == -1, "lb_num exited %d", code);
		/* lb_num refuses above (2^64-10)/10 before any max: only the two
		 * 2^64 kinds can tell, and no option has such a max */
		if (kind[k].max != UINT64_MAX || !m == !r) {
			FZ_ASSERT(r == m, "lb_num(\"%s\", max %llu, suffixes %d) = %d, model %d", s,
				  (unsigned long long)kind[k].max, kind[k].suffixes, r, m);
			FZ_ASSERT(r || got == want, "lb_num(\"%s\") = %llu, model %llu", s,
				  (unsigned long long)got, (unsigned long long)want);
		}
		FZ_ASSERT(r || got <= kind[k].max, "over max");
		FZ_ASSERT(!r || got == 7, "lb_num wrote *out on failure");
	} else {
		long r, m = model_secs(s);
		code = FZ_CALL(r = lb_secs(s));
		FZ_ASSERT(code == -1, "lb_secs exited %d", code);
		FZ_ASSERT(r == m, "lb_secs(\"%s\") = %ld ms, model %ld", s, r, m);
	}
	free(s);
	return 0;
}
