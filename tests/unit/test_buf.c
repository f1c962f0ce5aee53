/* test_buf.c - the growable buffer and JSON string escaping. */
#include "core/buf.h"

#include <criterion/criterion.h>

Test(buf, append_and_printf_grow_and_terminate)
{
    sl_buf b = SL_BUF_INIT;
    for (int i = 0; i < 1000; i++)
        sl_buf_printf(&b, "%d,", i);
    cr_assert_eq(b.data[b.len], '\0');
    cr_assert(strncmp(b.data, "0,1,2,", 6) == 0);
    cr_assert(strstr(b.data, ",999,") != NULL);
    sl_buf_reset(&b);
    cr_assert_eq(b.len, 0);
    sl_buf_append_str(&b, "x");
    cr_assert_str_eq(b.data, "x");
    sl_buf_free(&b);
    cr_assert_null(b.data);
    sl_buf_free(&b); /* NULL-safe twice */
}

Test(buf, json_string_escapes_controls_quotes_and_backslashes)
{
    sl_buf b = SL_BUF_INIT;
    const char in[] = "a\"b\\c\n\x01\x1f\xea\xb0\x80";
    sl_buf_append_json_string(&b, in, sizeof in - 1);
    cr_assert_str_eq(b.data, "\"a\\\"b\\\\c\\n\\u0001\\u001f\xea\xb0\x80\"");
    sl_buf_free(&b);
}

Test(buf, long_printf_beyond_small_buffer)
{
    sl_buf b = SL_BUF_INIT;
    char big[1000];
    memset(big, 'z', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    sl_buf_printf(&b, "<%s>", big);
    cr_assert_eq(b.len, 1001);
    cr_assert_eq(b.data[0], '<');
    cr_assert_eq(b.data[1000], '>');
    sl_buf_free(&b);
}
