/* fuzz_uids - lo-serve's -A UID[,UID...] parser, parse_uids() in
 * applets/lo_serve.c (static: the applet is compiled into this file).
 *
 * Checks against a model: at most 16 uids, each decimal, 0 to 2^32-2
 * (2^32-1 is (uid_t)-1, "nobody known"), fewer than 16 characters, no
 * empty entry; anything else exit 2; the parsed list equals the model's.
 */
#include "../../applets/lo_serve.c"
#include "fuzz.h"

static int model(const char *s, unsigned *out)
{
	int n = 0;
	for (;;) {
		size_t len = strcspn(s, ",");
		uint64_t v = 0;
		if (!len || len >= 16 || n == 16)
			return -1;
		for (size_t i = 0; i < len; i++) {
			if (s[i] < '0' || s[i] > '9')
				return -1;
			v = v * 10 + (uint64_t)(s[i] - '0');
		}
		if (v > UINT32_MAX - 1)
			return -1;
		out[n++] = (unsigned)v;
		if (!s[len])
			return n;
		s += len + 1;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	char *s = fz_str(d, n);
	unsigned want[16];
	int m, code;

	if (!*s) {	/* lb_parse refuses an empty -A */
		free(s);
		return 0;
	}
	fz_reset("lo-serve");
	nuids = 0;
	memset(uids, 0, sizeof(uids));
	lb_opts.uids = s;
	m = model(s, want);
	code = FZ_CALL(parse_uids());
	FZ_ASSERT(code == -1 || code == EX_USAGE, "exit %d", code);
	FZ_ASSERT((code == -1) == (m >= 0), "\"%s\": exit %d, model %d uids", s, code, m);
	if (code == -1) {
		FZ_ASSERT(nuids == m, "%d uids, model %d", nuids, m);
		FZ_ASSERT(!memcmp(uids, want, (size_t)m * sizeof(unsigned)), "uids differ");
	}
	free(s);
	return 0;
}
