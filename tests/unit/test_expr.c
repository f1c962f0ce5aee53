/*
 * test_expr.c - the expression language: parsing and precedence (through
 * the canonical text), every operator, the comparison rule, the missing-
 * field rule, lookups across several objects, values and arithmetic,
 * escapes in events, limits, error messages with their positions, and a
 * random round trip: for thousands of generated expressions, compiling the
 * canonical text gives an expression that prints the same and evaluates
 * the same over generated events.
 *
 * The PRNG seed is fixed; SL_TEST_SEED=<n> in the environment mixes in
 * another, and failures print the seed, the expression and the event.
 */
#include "core/buf.h"
#include "core/json.h"
#include "expr/expr.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

/* ---- helpers ------------------------------------------------------------- */

static sl_expr *compile(const char *src)
{
    sl_expr *e = NULL;
    sl_buf err = SL_BUF_INIT;
    int rc = sl_expr_compile(src, strlen(src), &e, &err);
    cr_assert_eq(rc, 0, "<%s> does not compile: %s", src, err.data ? err.data : "");
    cr_assert_not_null(e);
    sl_buf_free(&err);
    return e;
}

/* The canonical text of src. */
static char *canon(const char *src)
{
    sl_expr *e = compile(src);
    sl_buf b = SL_BUF_INIT;
    sl_expr_to_string(e, &b);
    sl_expr_free(e);
    return sl_buf_steal(&b);
}

#define CANON(src, want)                                                          \
    do {                                                                          \
        char *got_ = canon(src);                                                  \
        cr_assert_str_eq(got_, want, "<%s> printed <%s>, wanted <%s>", src, got_, want); \
        free(got_);                                                               \
    } while (0)

static void assert_valid_json(const char *ev)
{
    size_t end;
    sl_json_error je;
    cr_assert_eq(sl_json_validate(ev, strlen(ev), 0, &end, &je), 0, "bad test event %s: %s", ev,
                 je.message);
}

static bool eval_on(const char *src, const char *ev)
{
    assert_valid_json(ev);
    sl_expr *e = compile(src);
    bool r = sl_expr_eval_bool(e, sl_view_of(ev));
    sl_expr_free(e);
    return r;
}

#define HOLDS(src, ev) cr_assert(eval_on(src, ev), "<%s> should hold on %s", src, ev)
#define FAILS(src, ev) cr_assert(!eval_on(src, ev), "<%s> should not hold on %s", src, ev)

/* The full error message of src, which must not compile. */
static char *error_of(const char *src, size_t len)
{
    sl_expr *e = (sl_expr *)0x1;
    sl_buf err = SL_BUF_INIT;
    int rc = sl_expr_compile(src, len, &e, &err);
    cr_assert_eq(rc, SL_ERR_PARSE, "<%.*s> compiled", (int)len, src);
    cr_assert_null(e);
    cr_assert_not_null(err.data);
    return sl_buf_steal(&err);
}

#define ERROR(src, want)                                                           \
    do {                                                                           \
        char *got_ = error_of(src, strlen(src));                                   \
        cr_assert_str_eq(got_, want, "<%s>: got \"%s\", wanted \"%s\"", src, got_, want); \
        free(got_);                                                                \
    } while (0)

/* The value of src on ev, as JSON text ("MISSING" when none). */
static char *value_on(const char *src, const char *ev)
{
    assert_valid_json(ev);
    sl_expr *e = compile(src);
    sl_expr_value v;
    cr_assert_eq(sl_expr_eval(e, sl_view_of(ev), &v), 0);
    sl_buf b = SL_BUF_INIT;
    if (sl_expr_value_json(&v, &b) < 0)
        sl_buf_append_str(&b, v.type == SL_EXPR_LIST ? "LIST" : "MISSING");
    sl_expr_free(e);
    return sl_buf_steal(&b);
}

#define VALUE(src, ev, want)                                                       \
    do {                                                                           \
        char *got_ = value_on(src, ev);                                            \
        cr_assert_str_eq(got_, want, "<%s> on %s = %s, wanted %s", src, ev, got_, want); \
        free(got_);                                                                \
    } while (0)

/* The seed-001 event after enrichment, as the tests below read it. */
static const char *const EV =
    "{\"e_c\":\"buttonClick\",\"e_a\":\"Clicked\",\"url\":\"http://shop/product_detail/p1\","
    "\"_idn\":\"0\",\"cookie\":\"1\",\"res\":\"1920x1080\",\"memberId\":\"123456\",\"h\":\"10\","
    "\"age\":25,\"gender\":\"MALE\",\"score\":2.5,\"ok\":true,\"no\":false,\"nothing\":null,"
    "\"tags\":[\"a\",\"b\",1],\"meta\":{\"status\":503,\"a.b\":\"dotted\",\"in\":7},"
    "\"user-agent\":\"Mozilla bot\",\"zero\":0,\"empty\":\"\",\"big\":9007199254740993}";

/* ---- parsing and precedence ---------------------------------------------- */

Test(expr, canonical_text_of_each_construct)
{
    CANON("age>20&&gender=='MALE'&&h>=9", "age > 20 && gender == 'MALE' && h >= 9");
    CANON("age > 20 and gender == \"MALE\" or not has(x)",
          "age > 20 && gender == 'MALE' || !has(x)");
    CANON("a.b.c", "a.b.c");
    CANON("`user-agent` contains 'bot'", "`user-agent` contains 'bot'");
    CANON("meta.`a.b`", "meta.`a.b`");
    CANON("`in`.in.null", "`in`.`in`.`null`");
    CANON("`it``s`", "`it``s`");
    CANON("`plain`", "plain");
    CANON("@timestamp", "@timestamp");
    CANON("[1, 2.5, 'x', true, false, null, []]", "[1, 2.5, 'x', true, false, null, []]");
    CANON("x in [1,2]", "x in [1, 2]");
    CANON("x not in [1,2]", "x not in [1, 2]");
    CANON("x startswith 'a' || x endswith 'b'", "x startswith 'a' || x endswith 'b'");
    CANON("1e3", "1000.0");
    CANON("2.50", "2.5");
    CANON("0.1", "0.1");
    CANON("007", "7");
    CANON("-5", "-5");
    CANON("- -5", "5");
    CANON("-(x)", "-x");
    CANON("-(-x)", "-(-x)");
    CANON("'it\\'s \"q\" \\n\\t\\u00e9\\ud83d\\ude00\\u0001'", "'it\\'s \"q\" \\n\\té😀\\u0001'");
    CANON("\"\"", "''");
    CANON("9223372036854775807", "9223372036854775807");
    CANON("9223372036854775808", "9.223372036854776e+18");
}

Test(expr, precedence_and_associativity)
{
    CANON("a || b && c", "a || b && c");
    CANON("(a || b) && c", "(a || b) && c");
    CANON("a && (b && c) && d", "a && b && c && d");
    CANON("(a || b) || (c || d)", "a || b || c || d");
    CANON("!a == 1", "!(a == 1)");
    CANON("not a and b", "!a && b");
    CANON("!(a && b)", "!(a && b)");
    CANON("!!a", "!(!a)");
    CANON("1 + 2 * 3", "1 + 2 * 3");
    CANON("(1 + 2) * 3", "(1 + 2) * 3");
    CANON("a - (b - c)", "a - (b - c)");
    CANON("(a - b) - c", "a - b - c");
    CANON("a / (b * c)", "a / (b * c)");
    CANON("-a * b", "-a * b");
    CANON("-(a * b)", "-(a * b)");
    CANON("a + 1 > b * 2", "a + 1 > b * 2");
    CANON("(a > 1) == true", "(a > 1) == true");
    CANON("x in [a && b, c || d]", "x in [a && b, c || d]");

    HOLDS("1 + 2 * 3 == 7", "{}");
    HOLDS("(1 + 2) * 3 == 9", "{}");
    HOLDS("10 - 4 - 3 == 3", "{}");
    HOLDS("2 * 3 % 4 == 2", "{}");
    HOLDS("-2 * 3 == -6", "{}");
    HOLDS("true || false && false", "{}");  /* && first */
    FAILS("(true || false) && false", "{}");
    HOLDS("!false && true", "{}");          /* ! before && */
    FAILS("!(1 == 1)", "{}");
    HOLDS("!1 == 2", "{}");                 /* !(1 == 2), not (!1) == 2 */
}

/* ---- operators ----------------------------------------------------------- */

Test(expr, comparisons_on_numbers_and_strings)
{
    HOLDS("age == 25", EV);
    HOLDS("age != 26", EV);
    HOLDS("age > 24 && age >= 25 && age < 26 && age <= 25", EV);
    FAILS("age > 25", EV);
    FAILS("age < 25", EV);
    HOLDS("score == 2.5 && score > 2 && score < 3", EV);
    HOLDS("age == 25.0", EV);
    HOLDS("gender == 'MALE' && gender != 'FEMALE'", EV);
    HOLDS("gender > 'FEMALE' && gender < 'MALF' && gender >= 'MALE' && gender <= 'MALE'", EV);
    HOLDS("(e_c < e_a) == false", "{\"e_c\":\"b\",\"e_a\":\"a\"}");
    HOLDS("empty == ''", EV);
    HOLDS("'abc' < 'abd' && 'ab' < 'abc' && 'B' < 'a'", "{}");
    HOLDS("'é' > 'z'", "{}"); /* byte order is code point order */
    HOLDS("ok == true && no == false && ok != no", EV);
    HOLDS("nothing == null", EV);
    FAILS("nothing != null", EV);
    HOLDS("meta.status == 503", EV);
    HOLDS("meta == meta && tags == tags", EV);
    HOLDS("tags == ['a', 'b', 1]", EV);
    HOLDS("tags != ['a', 'b']", EV);
    HOLDS("tags == ['a', 'b', '1']", EV); /* elements by the same rule */
}

Test(expr, numeric_strings_compare_as_numbers)
{
    /* Both sides read as numbers: numbers. The seed's "right": "20". */
    HOLDS("h >= 9", EV);              /* "10" >= 9 */
    HOLDS("h >= '9'", EV);            /* "10" >= "9": both read as numbers */
    HOLDS("age > '20'", EV);
    HOLDS("memberId == 123456", EV);
    HOLDS("'007' == 7 && '7.0' == 7 && '1e3' == 1000 && '-2' < 1 && '+3' == 3", "{}");
    HOLDS("'.5' == 0.5 && '5.' == 5", "{}");
    /* A string that is not only a number compares as a string... */
    HOLDS("'10' < '9a'", "{}");
    HOLDS("res > '1000x'", EV);
    /* ... and against a number it is unequal and unordered. */
    FAILS("' 20' == 20", "{}");
    HOLDS("' 20' != 20", "{}");
    FAILS("'20px' < 30 || '20px' > 10 || '20px' == 20", "{}");
    HOLDS("'0x10' != 16 && 'inf' != 1 && 'nan' != 1", "{}");
    FAILS("gender > 5 || gender < 5 || gender == 5", EV);
    HOLDS("gender != 5", EV);
}

Test(expr, integers_and_floats_compare_exactly)
{
    HOLDS("big == 9007199254740993", EV);
    FAILS("big == 9007199254740992", EV);
    FAILS("big == 9007199254740992.0", EV);   /* no rounding of the integer */
    HOLDS("big > 9007199254740992.0", EV);
    HOLDS("9223372036854775807 < 9223372036854775808.0", "{}");
    HOLDS("-9223372036854775807 - 1 == -9223372036854775808.0", "{}");
    HOLDS("1 == 1.0 && 1 < 1.5 && 2 > 1.5 && -1 > -1.5", "{}");
    HOLDS("n > 1e300", "{\"n\":1e301}");
    HOLDS("n == 0", "{\"n\":-0.0}");
}

Test(expr, other_types_are_unequal_and_unordered)
{
    FAILS("ok == 1 || ok > 0 || ok == 'true'", EV);
    HOLDS("ok != 1 && ok != 'true'", EV);
    FAILS("nothing == 0 || nothing == '' || nothing < 1", EV);
    HOLDS("nothing != 0", EV);
    FAILS("ok > false || ok >= true || nothing >= null", EV);
    FAILS("tags > ['a'] || meta > meta", EV);
    FAILS("meta == 503 || tags == 'a'", EV);
}

Test(expr, in_contains_startswith_endswith)
{
    HOLDS("gender in ['MALE', 'FEMALE']", EV);
    FAILS("gender in ['FEMALE']", EV);
    HOLDS("gender not in ['FEMALE']", EV);
    FAILS("gender not in ['MALE', 'X']", EV);
    HOLDS("age in [1, 25]", EV);
    HOLDS("age in ['25']", EV);          /* by the comparison rule */
    HOLDS("h in [9, 10]", EV);
    HOLDS("'a' in tags && 1 in tags && '1' in tags", EV);
    FAILS("'c' in tags", EV);
    HOLDS("tags contains 'b'", EV);
    FAILS("tags contains 'c'", EV);
    HOLDS("url contains 'product_detail'", EV);
    FAILS("url contains 'cart'", EV);
    HOLDS("'detail' in url", EV);
    HOLDS("url contains ''", EV);
    HOLDS("url startswith 'http://' && url endswith '/p1'", EV);
    FAILS("url startswith 'https://' || url endswith '/p2'", EV);
    HOLDS("url startswith url && url endswith url", EV);
    FAILS("'ab' startswith 'abc' || 'ab' endswith 'xab'", "{}");
    FAILS("age contains 2 || age startswith '2' || 25 in '25'", EV); /* strings only */
    HOLDS("[1, [2, 3]] contains [2, 3]", "{}");
    HOLDS("5 in [1, 2 + 3] && age in [age]", EV);
    HOLDS("[] == [] && !(1 in [])", "{}");
    HOLDS("meta.in == 7", EV);
}

Test(expr, logic_short_circuits_and_truthiness)
{
    HOLDS("ok", EV);
    FAILS("no", EV);
    HOLDS("age", EV);          /* a number other than 0 */
    FAILS("zero", EV);
    FAILS("gender", EV);       /* strings are not conditions */
    FAILS("tags || meta || nothing || missing", EV);
    HOLDS("!missing && !nothing", EV);
    HOLDS("ok || 1 / 0 == 1", EV);
    FAILS("no && ok", EV);
    HOLDS("has(age) && has(nothing) && has(meta.status) && !has(meta.none)", EV);
    HOLDS("has(`user-agent`) && has(meta.`a.b`) && !has(meta.a.b)", EV);
}

/* ---- missing fields ------------------------------------------------------ */

Test(expr, a_comparison_with_a_missing_field_is_false)
{
    const char *ops[] = { "==", "!=", ">", ">=", "<", "<=", "in", "not in", "contains",
                          "startswith", "endswith" };
    for (size_t i = 0; i < SL_ARRAY_LEN(ops); i++) {
        char src[128];
        snprintf(src, sizeof src, "missing %s 1", ops[i]);
        FAILS(src, EV);
        snprintf(src, sizeof src, "1 %s missing", ops[i]);
        FAILS(src, EV);
        snprintf(src, sizeof src, "!(missing %s 1)", ops[i]);
        HOLDS(src, EV);
    }
    FAILS("missing == null", EV);
    FAILS("missing == missing", EV);
    FAILS("missing + 1 == 1 || -missing == 0", EV);
    FAILS("meta.nope == 1 || age.x == 1 || tags.a == 1", EV);
    HOLDS("missing == 1 || age == 25", EV);
    FAILS("has(missing)", EV);
    HOLDS("x in [missing, 1]", "{\"x\":1}");
    FAILS("x in [missing]", "{\"x\":1}");
    FAILS("[missing] == [missing]", "{}");
}

/* ---- several objects ----------------------------------------------------- */

static bool eval_objects(const char *src, const char *a, const char *b)
{
    sl_expr *e = compile(src);
    sl_view objs[2] = { sl_view_of(a), b ? sl_view_of(b) : SL_VIEW_NULL };
    bool r = sl_expr_eval_bool_ctx(e, objs, 2);
    sl_expr_free(e);
    return r;
}

Test(expr, fields_are_looked_up_in_each_object_in_order)
{
    const char *event = "{\"memberId\":\"7\",\"h\":10,\"age\":99,\"m\":{\"x\":1}}";
    const char *member = "{\"member_id\":7,\"age\":30,\"gender\":\"MALE\",\"m\":{\"y\":2},\"h\":1}";
    cr_assert(eval_objects("age == 99", event, member), "the event comes first");
    cr_assert(eval_objects("gender == 'MALE' && h == 10", event, member));
    cr_assert(eval_objects("member_id == memberId", event, member));
    cr_assert(eval_objects("m.x == 1 && m.y == 2", event, member),
              "a nested path missing in the event is taken from the member");
    cr_assert(!eval_objects("m.z == 1 || has(m.z)", event, member));
    /* The member record unknown: an empty view. */
    cr_assert(!eval_objects("gender == 'MALE'", event, NULL));
    cr_assert(eval_objects("!(gender == 'MALE') && h == 10", event, NULL));
    /* Not objects at all: nothing is found, nothing breaks. */
    cr_assert(!eval_objects("a == 1", "[1,2]", "\"a\""));
    cr_assert(!sl_expr_eval_bool_ctx(NULL, NULL, 0));

    sl_expr *e = compile("age > 20 && gender == 'MALE'");
    cr_assert(!sl_expr_eval_bool_ctx(e, NULL, 5));
    sl_view three[3] = { sl_view_of("{}"), sl_view_of("{\"age\":21}"),
                         sl_view_of("{\"gender\":\"MALE\",\"age\":1}") };
    cr_assert(sl_expr_eval_bool_ctx(e, three, 3));
    cr_assert(!sl_expr_eval_bool_ctx(e, three, 2));
    sl_expr_free(e);
}

/*
 * && and || evaluate operands whose fields are already found before those
 * that need the member record read: the results must be those of the
 * operands taken one by one, whatever the order they are written in.
 */
Test(expr, logic_over_two_objects_agrees_with_its_operands)
{
    static const char *const ops[] = { "h >= 9", "age > 20", "has(gender)", "m.y == 2",
                                       "!(age < 30)", "h < 9 || age == 30" };
    static const char *const events[] = { "{\"h\":10}", "{\"h\":5}", "{\"h\":10,\"age\":40}",
                                          "{}" };
    static const char *const members[] = { "{\"age\":30,\"gender\":\"M\",\"m\":{\"y\":2}}",
                                           "{\"age\":10}", NULL };
    enum { NOPS = sizeof ops / sizeof ops[0] };
    char src[256];
    for (size_t ev = 0; ev < sizeof events / sizeof events[0]; ev++)
        for (size_t mb = 0; mb < sizeof members / sizeof members[0]; mb++) {
            bool one[NOPS];
            for (size_t i = 0; i < NOPS; i++)
                one[i] = eval_objects(ops[i], events[ev], members[mb]);
            for (size_t i = 0; i < NOPS; i++)
                for (size_t j = 0; j < NOPS; j++)
                    for (size_t k = 0; k < NOPS; k++) {
                        snprintf(src, sizeof src, "(%s) && (%s) && (%s)", ops[i], ops[j], ops[k]);
                        cr_assert_eq(eval_objects(src, events[ev], members[mb]),
                                     one[i] && one[j] && one[k], "%s over %s / %s", src,
                                     events[ev], members[mb] ? members[mb] : "none");
                        snprintf(src, sizeof src, "(%s) || (%s) || !(%s)", ops[i], ops[j], ops[k]);
                        cr_assert_eq(eval_objects(src, events[ev], members[mb]),
                                     one[i] || one[j] || !one[k], "%s over %s / %s", src,
                                     events[ev], members[mb] ? members[mb] : "none");
                    }
        }
}

Test(expr, duplicate_keys_last_one_wins_as_in_sl_json_get)
{
    HOLDS("a == 2", "{\"a\":1,\"a\":2}");
    HOLDS("a.b == 3", "{\"a\":{\"b\":1},\"a\":{\"b\":3}}");
    const char *ev = "{\"x\":1,\"y\":{\"q\":1},\"x\":5}";
    sl_view v;
    cr_assert(sl_json_get(sl_view_of(ev), "x", &v));
    cr_assert(eval_on("x == 5", ev));
}

Test(expr, escapes_in_event_keys_and_strings)
{
    const char *ev = "{\"\\u0061ge\":30,\"s\":\"a\\\"b\\u00e9\\n\",\"k\\\"q\":1,\"n\":\"\\u0032\\u0030\","
                     "\"\\ud83d\\ude00\":\"smile\"}";
    HOLDS("age == 30", ev);
    HOLDS("s == 'a\"bé\\n'", ev);
    HOLDS("s startswith 'a\"b' && s endswith 'é\\n' && s contains '\"bé'", ev);
    FAILS("s contains 'bé\\n!' || s endswith 'x\\n'", ev);
    HOLDS("s > 'a\"b' && s < 'a\"c'", ev);
    HOLDS("`k\"q` == 1", ev);
    HOLDS("n == 20", ev); /* "\u0032\u0030" is "20" */
    HOLDS("`😀` == 'smile'", ev);
    VALUE("s", ev, "\"a\\\"b\\u00e9\\n\"");
}

/* ---- values -------------------------------------------------------------- */

Test(expr, values_and_arithmetic)
{
    VALUE("age", EV, "25");
    VALUE("score", EV, "2.5");
    VALUE("gender", EV, "\"MALE\"");
    VALUE("meta", EV, "{\"status\":503,\"a.b\":\"dotted\",\"in\":7}");
    VALUE("tags", EV, "[\"a\",\"b\",1]");
    VALUE("nothing", EV, "null");
    VALUE("missing", EV, "MISSING");
    VALUE("[1, 2]", EV, "LIST");
    VALUE("age > 20", EV, "true");
    VALUE("age + 1", EV, "26");
    VALUE("h + 1", EV, "11");          /* "10" reads as a number */
    VALUE("h * 1.5", EV, "15.0");
    VALUE("age - 30", EV, "-5");
    VALUE("age * 2", EV, "50");
    VALUE("age / 2", EV, "12.5");      /* / is always a float division */
    VALUE("10 / 5", EV, "2.0");
    VALUE("age % 7", EV, "4");
    VALUE("-7 % 3", EV, "-1");         /* the sign of the dividend */
    VALUE("7.5 % 2", EV, "1.5");
    VALUE("1 / 0", EV, "MISSING");
    VALUE("1 % 0", EV, "MISSING");
    VALUE("1.0 % 0", EV, "MISSING");
    VALUE("-9223372036854775807 - 1", EV, "-9223372036854775808");
    VALUE("(-9223372036854775807 - 1) % -1", EV, "0");
    VALUE("-(-9223372036854775807 - 1)", EV, "9.223372036854776e+18");
    VALUE("9223372036854775807 + 1", EV, "9.223372036854776e+18");
    VALUE("9223372036854775807 * 2", EV, "1.8446744073709552e+19");
    VALUE("1e308 * 10", EV, "MISSING");
    VALUE("gender + 1", EV, "MISSING");
    VALUE("ok + 1", EV, "MISSING");
    VALUE("-gender", EV, "MISSING");
    VALUE("0.1 + 0.2", EV, "0.30000000000000004");

    sl_expr *e = compile("h");
    sl_expr_value v;
    cr_assert_eq(sl_expr_eval(e, sl_view_of(EV), &v), 0);
    cr_assert_eq(v.type, SL_EXPR_STRING);
    double d;
    cr_assert(sl_expr_value_number(&v, &d) && d == 10);
    sl_buf b = SL_BUF_INIT;
    cr_assert_eq(sl_expr_value_text(&v, &b), 0);
    cr_assert_str_eq(b.data, "10");
    cr_assert(!sl_expr_value_truthy(&v));
    cr_assert_eq(sl_expr_eval(NULL, sl_view_of(EV), &v), -EINVAL);
    cr_assert_eq(sl_expr_eval(e, sl_view_of(EV), NULL), -EINVAL);
    sl_expr_free(e);
    sl_buf_free(&b);
}

Test(expr, field_names_for_enrichment)
{
    sl_expr *e = compile("age > 20 && gender == 'MALE' && meta.x == 1 && age < 90 && has(`a b`)");
    cr_assert_eq(sl_expr_field_count(e), 4);
    const char *want[] = { "age", "gender", "meta", "a b" };
    for (size_t i = 0; i < 4; i++) {
        size_t n;
        const char *name = sl_expr_field_name(e, i, &n);
        cr_assert_str_eq(name, want[i]);
        cr_assert_eq(n, strlen(want[i]));
    }
    cr_assert_null(sl_expr_field_name(e, 4, NULL));
    sl_expr_free(e);
    sl_expr_free(NULL);
}

/* ---- errors -------------------------------------------------------------- */

Test(expr, errors_name_the_position_and_the_problem)
{
    ERROR("", "at 0: empty expression");
    ERROR("   ", "at 3: empty expression");
    ERROR("has(x", "at 5: expected ')' after the argument of has(), found the end of the expression");
    ERROR("has(1)", "at 4: expected a field path as the argument of has(), found '1'");
    ERROR("age = 20", "at 4: unexpected '='; did you mean '=='?");
    ERROR("a & b", "at 2: unexpected '&'; did you mean '&&'?");
    ERROR("a | b", "at 2: unexpected '|'; did you mean '||'?");
    ERROR("age > ", "at 6: unexpected end of the expression, expected a value");
    ERROR("(age > 1", "at 8: expected ')' to close the '(' at 0, found the end of the expression");
    ERROR("age > 1)", "at 7: ')' without a matching '('");
    ERROR("x in [1, 2", "at 10: expected ',' or ']' in the list opened at 5, found the end of the expression");
    ERROR("x in [1 2]", "at 8: expected ',' or ']' in the list opened at 5, found '2'");
    ERROR("a < b < c", "at 6: comparisons do not chain; join them with && (a < b && b < c)");
    ERROR("a b", "at 2: expected an operator or the end of the expression, found 'b'");
    ERROR("gender == 'MALE", "at 10: unterminated string");
    ERROR("'a\\qb'", "at 2: unknown escape '\\q' in string");
    ERROR("'\\u12'", "at 1: invalid \\u escape: expected 4 hex digits");
    ERROR("'\\ud800'", "at 1: unpaired high surrogate \\uD800");
    ERROR("'\\udc00'", "at 1: unpaired low surrogate \\uDC00");
    ERROR("'a\nb'", "at 2: control character 0x0a in string (write it as \\u000a)");
    ERROR("`abc", "at 0: unterminated quoted key (a key quoted with ` ends with `)");
    ERROR("12abc", "at 0: invalid number '12abc'");
    ERROR("1.2.3", "at 0: invalid number '1.2.3'");
    ERROR("1e999", "at 0: number '1e999' is out of range");
    ERROR("lower(x)", "at 0: unknown function 'lower' (the one function is has)");
    ERROR("a.(b)", "at 2: expected a key after '.', found '('");
    ERROR("a.", "at 2: expected a key after '.', found the end of the expression");
    ERROR("a.1", "at 2: expected a key after '.', found '1'");
    ERROR("#", "at 0: unexpected character '#'");
    ERROR("age > +1", "at 6: expected a value (a field, a literal or '('), found '+'");
    ERROR("in", "at 0: expected a value (a field, a literal or '('), found 'in'");
    ERROR("x == 'é\xff'", "at 8: invalid UTF-8 in string");
    ERROR("\xc3\x28", "at 0: invalid UTF-8 in name");

    char *msg = error_of("a\0b", 3);
    cr_assert_str_eq(msg, "at 1: unexpected byte 0x00");
    free(msg);
    msg = error_of("`a\0`", 4);
    cr_assert_str_eq(msg, "at 2: NUL byte in quoted key");
    free(msg);
}

Test(expr, limits_are_errors_not_crashes)
{
    sl_buf src = SL_BUF_INIT;
    for (int i = 0; i < 100000; i++)
        sl_buf_append_char(&src, '(');
    char *msg = error_of(src.data, src.len);
    cr_assert_str_eq(msg, "at 200: more than 200 nested parentheses, brackets and prefix operators");
    free(msg);

    sl_buf_reset(&src);
    sl_buf_append_str(&src, "1");
    for (int i = 0; i < 150; i++)
        sl_buf_append_str(&src, " + 1");
    msg = error_of(src.data, src.len);
    cr_assert_str_eq(msg, "at 398: expression nests deeper than 100 levels");
    free(msg);

    sl_buf_reset(&src);
    for (int i = 0; i < 150; i++)
        sl_buf_append_char(&src, '-');
    sl_buf_append_str(&src, "x");
    msg = error_of(src.data, src.len);
    cr_assert(strstr(msg, "expression nests deeper than 100 levels"), "%s", msg);
    free(msg);

    /* What compiles prints a text that compiles: at the deepest tree,
       every level of it printed as !( ... ). */
    sl_buf_reset(&src);
    for (int i = 0; i < SL_EXPR_MAX_DEPTH - 2; i++)
        sl_buf_append_str(&src, "!");
    sl_buf_append_str(&src, "a < b");
    sl_expr *deep = compile(src.data);
    sl_buf text = SL_BUF_INIT;
    sl_expr_to_string(deep, &text);
    sl_expr_free(deep);
    deep = compile(text.data);
    sl_expr_free(deep);
    sl_buf_free(&text);

    /* A long && chain is flat: thousands of conditions compile. */
    sl_buf_reset(&src);
    for (int i = 0; i < 5000; i++)
        sl_buf_printf(&src, "%sa%d == %d", i ? " && " : "", i % 100, i % 100);
    sl_expr *e = compile(src.data);
    sl_buf ev = SL_BUF_INIT;
    sl_buf_append_char(&ev, '{');
    for (int i = 0; i < 100; i++)
        sl_buf_printf(&ev, "%s\"a%d\":%d", i ? "," : "", i, i);
    sl_buf_append_char(&ev, '}');
    cr_assert(sl_expr_eval_bool(e, sl_buf_view(&ev)));
    sl_expr_free(e);

    /* Too many distinct fields. */
    sl_buf_reset(&src);
    for (int i = 0; i < SL_EXPR_MAX_FIELDS + 1; i++)
        sl_buf_printf(&src, "%sf%d == 1", i ? " || " : "", i);
    msg = error_of(src.data, src.len);
    cr_assert(strstr(msg, "more than 128 distinct fields in one expression"), "%s", msg);
    free(msg);

    /* Hash-table key sets (more than 8 keys) find their keys too. */
    sl_buf_reset(&src);
    for (int i = 0; i < 40; i++)
        sl_buf_printf(&src, "%sa%d == %d", i ? " && " : "", i, i);
    e = compile(src.data);
    cr_assert(sl_expr_eval_bool(e, sl_buf_view(&ev)));
    sl_expr_free(e);

    /* Arrays nested thousands deep in an event: compared without
       recursing that deep (beyond 64 levels they are unequal). */
    sl_buf_reset(&ev);
    sl_buf_append_str(&ev, "{\"a\":");
    for (int i = 0; i < 3000; i++)
        sl_buf_append_char(&ev, '[');
    for (int i = 0; i < 3000; i++)
        sl_buf_append_char(&ev, ']');
    sl_buf_append_str(&ev, ",\"b\":[[1]]}");
    size_t end;
    cr_assert_eq(sl_json_validate(ev.data, ev.len, 4096, &end, NULL), 0);
    e = compile("a == a || [[1]] in [b] && b == [[1]]");
    cr_assert(sl_expr_eval_bool(e, sl_buf_view(&ev)));
    sl_expr_free(e);
    e = compile("a == a");
    cr_assert(!sl_expr_eval_bool(e, sl_buf_view(&ev)));
    sl_expr_free(e);

    sl_buf_free(&src);
    sl_buf_free(&ev);
}

/* ---- the random round trip ----------------------------------------------- */

static uint64_t rng_state;

static uint64_t rnd(void) /* splitmix64 */
{
    uint64_t z = (rng_state += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

static unsigned pick(unsigned n)
{
    return (unsigned)(rnd() % n);
}

static uint64_t test_seed(void)
{
    uint64_t seed = 0x5eed0001;
    const char *env = getenv("SL_TEST_SEED");
    if (env && *env)
        seed ^= strtoull(env, NULL, 0) * UINT64_C(0x9e3779b97f4a7c15);
    return seed;
}

static const char *const FIELDS[] = { "a", "b", "s", "t", "arr", "o.x", "o.`y z`", "`k-1`", "nope" };

static void gen_literal(sl_buf *b)
{
    static const char *const strs[] = { "'x'", "'10'", "'abc'", "\"it's\"", "'é'", "''",
                                        "'\\n\\u0041'", "'2.5'", "'a b'" };
    switch (pick(7)) {
    case 0: sl_buf_printf(b, "%d", (int)pick(20) - 5); break;
    case 1: sl_buf_printf(b, "%d.%d", (int)pick(10), (int)pick(100)); break;
    case 2: sl_buf_append_str(b, strs[pick(SL_ARRAY_LEN(strs))]); break;
    case 3: sl_buf_append_str(b, pick(2) ? "true" : "false"); break;
    case 4: sl_buf_append_str(b, "null"); break;
    case 5: sl_buf_printf(b, "%de%d", (int)pick(9) + 1, (int)pick(5)); break;
    default: sl_buf_printf(b, "%u", (unsigned)pick(3)); break;
    }
}

static void gen_expr(sl_buf *b, int depth);

static void gen_operand(sl_buf *b, int depth)
{
    unsigned k = depth > 3 ? pick(2) : pick(8);
    switch (k) {
    case 0: sl_buf_append_str(b, FIELDS[pick(SL_ARRAY_LEN(FIELDS))]); break;
    case 1: gen_literal(b); break;
    case 2:
        sl_buf_append_char(b, '(');
        gen_expr(b, depth + 1);
        sl_buf_append_char(b, ')');
        break;
    case 3: {
        sl_buf_append_char(b, '[');
        unsigned n = pick(4);
        for (unsigned i = 0; i < n; i++) {
            if (i)
                sl_buf_append_str(b, ", ");
            if (pick(3))
                gen_literal(b);
            else
                gen_operand(b, depth + 1);
        }
        sl_buf_append_char(b, ']');
        break;
    }
    case 4: {
        static const char *const ar[] = { " + ", " - ", " * ", " / ", " % " };
        gen_operand(b, depth + 1);
        sl_buf_append_str(b, ar[pick(5)]);
        gen_operand(b, depth + 1);
        break;
    }
    case 5:
        sl_buf_append_str(b, pick(2) ? "-" : "- ");
        gen_operand(b, depth + 1);
        break;
    case 6:
        sl_buf_printf(b, "has(%s)", FIELDS[pick(SL_ARRAY_LEN(FIELDS))]);
        break;
    default:
        sl_buf_append_str(b, FIELDS[pick(SL_ARRAY_LEN(FIELDS))]);
        break;
    }
}

static void gen_expr(sl_buf *b, int depth)
{
    static const char *const cmp[] = { " == ", " != ", " < ", " <= ", " > ", " >= ", " in ",
                                       " not in ", " contains ", " startswith ", " endswith " };
    static const char *const logic[] = { " && ", " || ", " and ", " or " };
    unsigned k = depth > 3 ? 0 : pick(5);
    switch (k) {
    case 0:
    case 1:
        gen_operand(b, depth + 1);
        sl_buf_append_str(b, cmp[pick(SL_ARRAY_LEN(cmp))]);
        gen_operand(b, depth + 1);
        break;
    case 2:
        gen_expr(b, depth + 1);
        sl_buf_append_str(b, logic[pick(4)]);
        gen_expr(b, depth + 1);
        break;
    case 3:
        sl_buf_append_str(b, pick(2) ? "!" : "not ");
        gen_operand(b, depth + 1);
        break;
    default:
        gen_operand(b, depth + 1);
        break;
    }
}

static void gen_json_value(sl_buf *b, int depth)
{
    static const char *const strs[] = { "\"x\"", "\"10\"", "\"abc\"", "\"it's\"", "\"\\u00e9\"",
                                         "\"\"", "\"\\nA\"", "\"2.5\"", "\"a b\"", "\"-3\"" };
    switch (pick(depth ? 7 : 9)) {
    case 0: sl_buf_printf(b, "%d", (int)pick(20) - 5); break;
    case 1: sl_buf_printf(b, "%d.%d", (int)pick(10), (int)pick(100)); break;
    case 2:
    case 3: sl_buf_append_str(b, strs[pick(SL_ARRAY_LEN(strs))]); break;
    case 4: sl_buf_append_str(b, pick(2) ? "true" : "false"); break;
    case 5: sl_buf_append_str(b, "null"); break;
    case 6: sl_buf_printf(b, "%u", (unsigned)pick(3)); break;
    case 7: {
        sl_buf_append_char(b, '[');
        unsigned n = pick(4);
        for (unsigned i = 0; i < n; i++) {
            if (i)
                sl_buf_append_char(b, ',');
            gen_json_value(b, depth + 1);
        }
        sl_buf_append_char(b, ']');
        break;
    }
    default:
        sl_buf_append_str(b, "{\"x\":");
        gen_json_value(b, depth + 1);
        sl_buf_append_str(b, ",\"y z\":");
        gen_json_value(b, depth + 1);
        sl_buf_append_char(b, '}');
        break;
    }
}

static void gen_event(sl_buf *b)
{
    static const char *const keys[] = { "a", "b", "s", "t", "arr", "o", "k-1" };
    sl_buf_append_char(b, '{');
    bool first = true;
    for (size_t i = 0; i < SL_ARRAY_LEN(keys); i++) {
        if (pick(5) == 0)
            continue; /* missing */
        sl_buf_printf(b, "%s\"%s\":", first ? "" : ",", keys[i]);
        first = false;
        if (strcmp(keys[i], "o") == 0 && pick(4))
            gen_json_value(b, 0);
        else
            gen_json_value(b, 1);
    }
    sl_buf_append_char(b, '}');
}

static bool same_value(const sl_expr_value *x, const sl_expr_value *y)
{
    if (x->type != y->type)
        return false;
    switch (x->type) {
    case SL_EXPR_BOOL:   return x->b == y->b;
    case SL_EXPR_INT:    return x->i == y->i;
    case SL_EXPR_FLOAT:  return x->f == y->f || (isnan(x->f) && isnan(y->f));
    case SL_EXPR_STRING:
    case SL_EXPR_ARRAY:
    case SL_EXPR_OBJECT: return sl_view_eq(x->s, y->s) || x->type == SL_EXPR_STRING;
    default:             return true;
    }
}

Test(expr, random_round_trip_through_the_canonical_text)
{
    uint64_t seed = test_seed();
    rng_state = seed;
    sl_buf src = SL_BUF_INIT, t1 = SL_BUF_INIT, t2 = SL_BUF_INIT, ev = SL_BUF_INIT;
    sl_buf xa = SL_BUF_INIT, xb = SL_BUF_INIT;
    int compiled = 0, held = 0;
    for (int round = 0; round < 3000; round++) {
        sl_buf_reset(&src);
        gen_expr(&src, 0);
        sl_expr *e1 = NULL, *e2 = NULL;
        sl_buf err = SL_BUF_INIT;
        int rc = sl_expr_compile(src.data, src.len, &e1, &err);
        cr_assert_eq(rc, 0, "seed %llu: <%s> does not compile: %s", (unsigned long long)seed,
                     src.data, err.data);
        compiled++;
        sl_buf_reset(&t1);
        sl_expr_to_string(e1, &t1);
        rc = sl_expr_compile(t1.data, t1.len, &e2, &err);
        cr_assert_eq(rc, 0, "seed %llu: <%s> printed <%s>, which does not compile: %s",
                     (unsigned long long)seed, src.data, t1.data, err.data);
        sl_buf_reset(&t2);
        sl_expr_to_string(e2, &t2);
        cr_assert_str_eq(t1.data, t2.data, "seed %llu: <%s> printed <%s>, then <%s>",
                         (unsigned long long)seed, src.data, t1.data, t2.data);
        for (int k = 0; k < 20; k++) {
            sl_buf_reset(&ev);
            gen_event(&ev);
            size_t end;
            cr_assert_eq(sl_json_validate(ev.data, ev.len, 0, &end, NULL), 0, "%s", ev.data);
            bool r1 = sl_expr_eval_bool(e1, sl_buf_view(&ev));
            bool r2 = sl_expr_eval_bool(e2, sl_buf_view(&ev));
            cr_assert_eq(r1, r2, "seed %llu: <%s> and <%s> differ on %s", (unsigned long long)seed,
                         src.data, t1.data, ev.data);
            held += r1;
            sl_expr_value v1, v2;
            sl_expr_eval(e1, sl_buf_view(&ev), &v1);
            sl_expr_eval(e2, sl_buf_view(&ev), &v2);
            sl_buf_reset(&xa);
            sl_buf_reset(&xb);
            sl_expr_value_text(&v1, &xa);
            sl_expr_value_text(&v2, &xb);
            cr_assert(same_value(&v1, &v2) && strcmp(xa.data ? xa.data : "", xb.data ? xb.data : "") == 0,
                      "seed %llu: values of <%s> and <%s> differ on %s: %s / %s",
                      (unsigned long long)seed, src.data, t1.data, ev.data, xa.data, xb.data);
        }
        sl_expr_free(e1);
        sl_expr_free(e2);
        sl_buf_free(&err);
    }
    /* The generator must exercise both outcomes. */
    cr_assert(held > 3000 && held < 57000, "held %d of 60000", held);
    sl_buf_free(&src);
    sl_buf_free(&t1);
    sl_buf_free(&t2);
    sl_buf_free(&ev);
    sl_buf_free(&xa);
    sl_buf_free(&xb);
}
