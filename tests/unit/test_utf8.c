// SPDX-License-Identifier: GPL-2.0-or-later
/* utf8_copy (common/utf8.c): bytes to valid UTF-8 for JSON. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "common/utf8.h"

static void check(const char *in, size_t cap, const char *want, size_t used)
{
	char out[64];

	assert_true(cap <= sizeof(out));
	assert_int_equal(utf8_copy(out, cap, in), used);
	assert_string_equal(out, want);
}

static void test_valid(void **state)
{
	check("plain ascii", 64, "plain ascii", 11);
	check("", 64, "", 0);
	check("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 64,
	      "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 14);
}

static void test_invalid(void **state)
{
	check("a\xff" "b", 64, "a?b", 3);               /* not a lead byte */
	check("\xc3", 64, "?", 1);                      /* cut at the end */
	check("\xc3(", 64, "?(", 2);                    /* bad continuation */
	check("\xc0\x80", 64, "??", 2);                 /* overlong NUL */
	check("\xe0\x80\xaf", 64, "???", 3);            /* overlong '/' */
	check("\xed\xa0\x80", 64, "???", 3);            /* a surrogate */
	check("\xf4\x90\x80\x80", 64, "????", 4);       /* past U+10FFFF */
	check("\x80\xbf", 64, "??", 2);                 /* lone continuations */
}

static void test_cut(void **state)
{
	/* a sequence that does not fit is left out whole */
	check("ab\xc3\xa9", 4, "ab", 2);
	check("ab\xc3\xa9", 5, "ab\xc3\xa9", 4);
	check("\xe2\x82\xac\xe2\x82\xac", 6, "\xe2\x82\xac", 3);
	check("abc", 1, "", 0);
}

static void test_in_place(void **state)
{
	char s[] = "x\xff\xc3\xa9\xc3";

	assert_int_equal(utf8_copy(s, sizeof(s), s), 5);
	assert_string_equal(s, "x?\xc3\xa9?");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid),
		cmocka_unit_test(test_invalid),
		cmocka_unit_test(test_cut),
		cmocka_unit_test(test_in_place),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
