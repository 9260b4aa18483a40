/* check_script.c — the suite parser: every construct, and every parse error
 * at its exact line:column with what was expected. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "script.h"

static tr_suite *parse_ok(const char *src)
{
    tr_suite *s = NULL;
    tr_err e;
    int r = tr_suite_parse(src, strlen(src), "t.tsuite", &s, &e);
    char buf[1200];
    ck_assert_msg(r == 0, "parse failed: %s", tr_err_format(&e, buf, sizeof buf));
    ck_assert_ptr_nonnull(s);
    return s;
}

static void parse_err_n(const char *src, size_t n, int line, int col, const char *needle)
{
    tr_suite *s = (tr_suite *)1;
    tr_err e;
    int r = tr_suite_parse(src, n, "bad.tsuite", &s, &e);
    char buf[1200];
    ck_assert_msg(r == -1, "expected a parse error for <<%.80s>>", src);
    ck_assert_ptr_null(s);
    ck_assert_int_eq(e.code, TR_E_PARSE);
    ck_assert_str_eq(e.file, "bad.tsuite");
    ck_assert_msg(e.line == line && e.col == col, "for <<%.80s>>: at %d:%d, wanted %d:%d: %s", src, e.line,
                  e.col, line, col, tr_err_format(&e, buf, sizeof buf));
    ck_assert_msg(strstr(e.msg, needle) != NULL, "for <<%.80s>>: message \"%s\" lacks \"%s\"", src, e.msg,
                  needle);
    ck_assert_msg(strncmp(e.msg, "expected", 8) == 0, "message does not say what was expected: %s",
                  e.msg);
}

static void parse_err(const char *src, int line, int col, const char *needle)
{
    parse_err_n(src, strlen(src), line, col, needle);
}

static int count(const tr_stmt *s)
{
    int n = 0;
    for (; s; s = s->next)
        n++;
    return n;
}

static const tr_stmt *nth(const tr_stmt *s, int k)
{
    while (s && k--)
        s = s->next;
    ck_assert_ptr_nonnull(s);
    return s;
}

/* ---- scriptor scripts -------------------------------------------------------- */

START_TEST(scriptor_plain)
{
    const char *src = "# select the REF-1 application\r\n"
                      "reset\r\n"
                      "\r\n"
                      "00 A4 04 00 08 F0 54 4F 4B 52 49 47 01 00\r\n"
                      "00a4040008f0544f4b5249470100   # no spaces, lower case\n"
                      "00 CA 01 \\\n"
                      "  02 00\n"
                      "RESET\n"
                      "reset cold\n"
                      "Reset warm\n"
                      "exit\n"
                      "00 B0 00 00 00\n";
    tr_suite *s = parse_ok(src);
    ck_assert(s->scriptor);
    ck_assert_str_eq(s->name, "t");
    ck_assert_uint_eq(s->ntests, 1);
    ck_assert_str_eq(s->tests[0].name, "t");
    const tr_stmt *b = s->tests[0].body;
    ck_assert_int_eq(count(b), 9);
    ck_assert_int_eq(nth(b, 0)->kind, TR_ST_RESET);
    ck_assert(!nth(b, 0)->flag);
    const tr_stmt *a = nth(b, 1);
    ck_assert_int_eq(a->kind, TR_ST_APDU);
    ck_assert(a->tpl.constant);
    ck_assert_uint_eq(a->nbytes, 14);
    ck_assert_int_eq(a->bytes[0], 0x00);
    ck_assert_int_eq(a->bytes[5], 0xF0);
    ck_assert_int_eq(a->pos.line, 4);
    ck_assert_uint_eq(nth(b, 2)->nbytes, 14);
    ck_assert_mem_eq(nth(b, 2)->bytes, a->bytes, 14);
    const tr_stmt *c = nth(b, 3); /* continued line */
    ck_assert_uint_eq(c->nbytes, 5);
    ck_assert_int_eq(c->bytes[3], 0x02);
    ck_assert_int_eq(c->pos.line, 6);
    ck_assert_int_eq(nth(b, 4)->kind, TR_ST_RESET);
    ck_assert(nth(b, 5)->flag);
    ck_assert(!nth(b, 6)->flag);
    ck_assert_int_eq(nth(b, 7)->kind, TR_ST_EXIT);
    ck_assert_int_eq(nth(b, 8)->kind, TR_ST_APDU);
    tr_suite_free(s);
}
END_TEST

START_TEST(scriptor_name_and_attributes)
{
    tr_suite *s = NULL;
    tr_err e;
    const char *src = "suite \"ad hoc\"\ndestructive\nrequires ROLE == \"main\"\n00 A4 00 00\n";
    ck_assert_int_eq(tr_suite_parse(src, strlen(src), "dir/x/scriptor-select.txt", &s, &e), 0);
    ck_assert(s->scriptor);
    ck_assert_str_eq(s->name, "ad hoc");
    ck_assert_str_eq(s->tests[0].name, "scriptor-select");
    ck_assert(s->destructive);
    ck_assert_int_eq(s->nrequires, 1);
    ck_assert_str_eq(s->requires[0]->src, "ROLE == \"main\"");
    ck_assert_int_eq(count(s->tests[0].body), 1);
    tr_suite_free(s);
    /* empty file: one empty test */
    ck_assert_int_eq(tr_suite_parse("", 0, "empty.txt", &s, &e), 0);
    ck_assert(s->scriptor);
    ck_assert_ptr_null(s->tests[0].body);
    tr_suite_free(s);
}
END_TEST

/* ---- tests, attributes --------------------------------------------------------- */

START_TEST(test_blocks)
{
    const char *src = "suite \"pin\"\n"
                      "classify pin.generic\n"
                      "let TRIES = 10\n"
                      "requires defined(\"USER_PIN\")\n"
                      "\n"
                      "test \"counter\" {\n"
                      "  requires ROLE == \"main\"\n"
                      "  requires 1\n"
                      "  destructive\n"
                      "  00 20 00 81 expect 63Cx\n"
                      "  cleanup {\n"
                      "    reset\n"
                      "  }\n"
                      "}\n"
                      "test \"second\" {\n"
                      "}\n";
    tr_suite *s = parse_ok(src);
    ck_assert(!s->scriptor);
    ck_assert_str_eq(s->name, "pin");
    ck_assert_uint_eq(s->ntests, 2);
    ck_assert_int_eq(s->nrequires, 1);
    ck_assert_int_eq(count(s->prelude), 2);
    ck_assert_int_eq(s->prelude->kind, TR_ST_CLASSIFY);
    ck_assert_str_eq(s->prelude->classify, "pin.generic");
    const tr_test *t = &s->tests[0];
    ck_assert_str_eq(t->name, "counter");
    ck_assert_int_eq(t->pos.line, 6);
    ck_assert_int_eq(t->pos.col, 1);
    ck_assert(t->destructive);
    ck_assert_int_eq(t->nrequires, 2);
    ck_assert_int_eq(count(t->body), 2); /* APDU + its expect */
    ck_assert_int_eq(t->body->next->kind, TR_ST_EXPECT_SW);
    ck_assert_int_eq(t->body->next->pos.line, 10);
    ck_assert_int_eq(t->body->next->pos.col, 15);
    ck_assert(t->has_cleanup);
    ck_assert_int_eq(t->cleanup->kind, TR_ST_RESET);
    ck_assert(!s->tests[1].destructive);
    ck_assert_ptr_null(s->tests[1].body);
    ck_assert(!s->tests[1].has_cleanup);
    tr_suite_free(s);
}
END_TEST

/* ---- APDUs and patterns ------------------------------------------------------------ */

START_TEST(apdu_templates)
{
    const char *src = "00 20 00 81 10 ${pin:USER_PIN}\n"
                      "00 A4 04 00 ${len:AID} ${AID} 00 expect 9000\n"
                      "80 CA 00 ${hex:N+1} ${hex2:OFF} 6${nib:K}\n"
                      "00 B0 ${= OFF >> 8} 00 00 EXPECT data 30 82 ?? ?? *\n";
    tr_suite *s = parse_ok(src);
    const tr_stmt *b = s->tests[0].body;
    ck_assert_int_eq(count(b), 6);
    const tr_stmt *a = nth(b, 0);
    ck_assert(!a->tpl.constant);
    const tr_piece *pc = a->tpl.pieces;
    ck_assert_str_eq(pc->text, "0020008110");
    ck_assert_int_eq(pc->next->sub, TR_SUB_PIN);
    ck_assert_str_eq(pc->next->expr->name, "USER_PIN");
    ck_assert_int_eq(pc->next->pos.col, 16);
    pc = nth(b, 1)->tpl.pieces;
    ck_assert_int_eq(pc->next->sub, TR_SUB_LEN);
    ck_assert_int_eq(pc->next->next->sub, TR_SUB_VAR);
    ck_assert_str_eq(pc->next->next->next->text, "00");
    ck_assert_int_eq(nth(b, 2)->kind, TR_ST_EXPECT_SW);
    ck_assert_int_eq(nth(b, 2)->sw.n, 1);
    ck_assert_uint_eq(nth(b, 2)->sw.value[0], 0x9000);
    pc = nth(b, 3)->tpl.pieces;
    ck_assert_int_eq(pc->next->sub, TR_SUB_HEX);
    ck_assert_int_eq(pc->next->expr->kind, TR_EX_BINARY);
    ck_assert_int_eq(pc->next->next->sub, TR_SUB_HEX2);
    ck_assert_str_eq(pc->next->next->next->text, "6");
    ck_assert_int_eq(pc->next->next->next->next->sub, TR_SUB_NIB);
    pc = nth(b, 4)->tpl.pieces;
    ck_assert_int_eq(pc->next->sub, TR_SUB_EXPR);
    ck_assert_str_eq(pc->next->expr->src, "OFF >> 8");
    const tr_stmt *d = nth(b, 5);
    ck_assert_int_eq(d->kind, TR_ST_EXPECT_DATA);
    ck_assert(d->data.prefix);
    ck_assert_uint_eq(d->data.nbytes, 4);
    ck_assert_int_eq(d->data.value[0], 0x30);
    ck_assert_int_eq(d->data.mask[0], 0xFF);
    ck_assert_int_eq(d->data.mask[2], 0x00);
    tr_suite_free(s);
}
END_TEST

START_TEST(sw_patterns)
{
    tr_sw_pattern p;
    char why[128];
    ck_assert_int_eq(tr_sw_pattern_compile("63Cx", 4, &p, why, sizeof why), 0);
    ck_assert_int_eq(p.n, 1);
    ck_assert_uint_eq(p.value[0], 0x63C0);
    ck_assert_uint_eq(p.mask[0], 0xFFF0);
    ck_assert_int_eq(tr_sw_pattern_compile("61??", 4, &p, why, sizeof why), 0);
    ck_assert_uint_eq(p.mask[0], 0xFF00);
    ck_assert_int_eq(tr_sw_pattern_compile("9000 | 62 82|6Bxx", 17, &p, why, sizeof why), 0);
    ck_assert_int_eq(p.n, 3);
    ck_assert_uint_eq(p.value[1], 0x6282);
    ck_assert_uint_eq(p.value[2], 0x6B00);
    ck_assert_uint_eq(p.mask[2], 0xFF00);
    ck_assert_int_eq(tr_sw_pattern_compile("90000", 5, &p, why, sizeof why), -1);
    ck_assert_int_eq(tr_sw_pattern_compile("9000|", 5, &p, why, sizeof why), -1);
    ck_assert_int_eq(tr_sw_pattern_compile("90G0", 4, &p, why, sizeof why), -1);
    char many[200] = "";
    for (int k = 0; k < 17; k++)
        strcat(many, k ? "|9000" : "9000");
    ck_assert_int_eq(tr_sw_pattern_compile(many, strlen(many), &p, why, sizeof why), -1);
    ck_assert(strstr(why, "alternatives") != NULL);

    tr_data_pattern d;
    uint8_t v[8], m[8];
    ck_assert_int_eq(tr_data_pattern_compile("01 x2 ??", 8, v, m, sizeof v, &d, why, sizeof why), 0);
    ck_assert_uint_eq(d.nbytes, 3);
    ck_assert(!d.prefix);
    ck_assert_int_eq(m[1], 0x0F);
    ck_assert_int_eq(v[1], 0x02);
    ck_assert_int_eq(tr_data_pattern_compile("", 0, v, m, sizeof v, &d, why, sizeof why), 0);
    ck_assert_uint_eq(d.nbytes, 0);
    ck_assert_int_eq(tr_data_pattern_compile("*", 1, v, m, sizeof v, &d, why, sizeof why), 0);
    ck_assert(d.prefix);
    ck_assert_int_eq(tr_data_pattern_compile("001122334455667788", 18, v, m, sizeof v, &d, why, sizeof why), -1);
    ck_assert(strstr(why, "longer") != NULL);
}
END_TEST

/* ---- expressions --------------------------------------------------------------------- */

START_TEST(expressions)
{
    const char *src = "let A = 1 + 2 * 3\n"
                      "let B = (1 + 2) * 3\n"
                      "let C = X == 1 || Y != \"a b\" && !Z\n"
                      "let D = byte(DATA, 0) & 0x0F << 2\n"
                      "let E = \"esc \\\" \\\\ \\n \\t \\$ ${hex:I} # not a comment\"  # a comment\n"
                      "let F = -~3 % 2\n"
                      "let G = concat(\"a\", sub(\"0102\", 1), tlv(DATA, 0x5F20), int(\"01\"))\n"
                      "let H = 2.5\n"
                      "let J = ${X}\n"
                      "let K = 0x7FFFFFFFFFFFFFFF\n"
                      "let L = a <= b\n";
    tr_suite *s = parse_ok(src);
    const tr_stmt *b = s->tests[0].body;
    const tr_expr *x = nth(b, 0)->e[0];
    ck_assert_int_eq(x->kind, TR_EX_BINARY);
    ck_assert_int_eq(x->op, TR_OP_ADD);
    ck_assert_int_eq(x->b->op, TR_OP_MUL);
    x = nth(b, 1)->e[0];
    ck_assert_int_eq(x->op, TR_OP_MUL);
    ck_assert_int_eq(x->a->op, TR_OP_ADD);
    x = nth(b, 2)->e[0];
    ck_assert_int_eq(x->op, TR_OP_OR);
    ck_assert_int_eq(x->a->op, TR_OP_EQ);
    ck_assert_int_eq(x->b->op, TR_OP_AND);
    ck_assert_int_eq(x->b->b->kind, TR_EX_UNARY);
    ck_assert_int_eq(x->b->b->op, TR_OP_NOT);
    x = nth(b, 3)->e[0]; /* bitwise binds tighter than comparison, shift tighter than & */
    ck_assert_int_eq(x->op, TR_OP_BAND);
    ck_assert_int_eq(x->a->kind, TR_EX_CALL);
    ck_assert_int_eq(x->a->op, TR_FN_BYTE);
    ck_assert_int_eq(x->b->op, TR_OP_SHL);
    x = nth(b, 4)->e[0];
    ck_assert_int_eq(x->kind, TR_EX_STR);
    ck_assert(!x->str.constant);
    ck_assert_str_eq(x->str.pieces->text, "esc \" \\ \n \t $ ");
    ck_assert_int_eq(x->str.pieces->next->sub, TR_SUB_HEX);
    ck_assert_str_eq(x->str.pieces->next->next->text, " # not a comment");
    x = nth(b, 5)->e[0];
    ck_assert_int_eq(x->op, TR_OP_MOD);
    ck_assert_int_eq(x->a->op, TR_OP_NEG);
    ck_assert_int_eq(x->a->a->op, TR_OP_BNOT);
    x = nth(b, 6)->e[0];
    ck_assert_int_eq(x->op, TR_FN_CONCAT);
    ck_assert_int_eq(x->nargs, 4);
    ck_assert_int_eq(x->args[1]->nargs, 2);
    ck_assert_int_eq(x->args[2]->args[1]->ival, 0x5F20);
    x = nth(b, 7)->e[0];
    ck_assert_int_eq(x->kind, TR_EX_STR);
    ck_assert_str_eq(x->str.text, "2.5");
    x = nth(b, 8)->e[0];
    ck_assert_int_eq(x->kind, TR_EX_STR);
    ck_assert_int_eq(x->str.pieces->sub, TR_SUB_VAR);
    ck_assert_int_eq(nth(b, 9)->e[0]->ival, INT64_MAX);
    ck_assert_int_eq(nth(b, 10)->e[0]->op, TR_OP_LE);
    tr_suite_free(s);
}
END_TEST

/* ---- statements ------------------------------------------------------------------------ */

START_TEST(statements)
{
    const char *src = "test \"all\" {\n"
                      "  capture SERIAL\n"
                      "  if SW1 == 0x63 {\n"
                      "    log \"a\"\n"
                      "  } else if SW1 == 0x69 {\n"
                      "    log \"b\"\n"
                      "  } else {\n"
                      "    log \"c\"\n"
                      "  }\n"
                      "  repeat 3 {\n"
                      "    power-cycle\n"
                      "  }\n"
                      "  for I = 10 downto 1 {\n"
                      "  }\n"
                      "  for J = 1 to N {\n"
                      "  }\n"
                      "  assert DATALEN > 0 \"no data ${SW}\" classify sign.bad-signature\n"
                      "  assert 1\n"
                      "  fail\n"
                      "  fail \"why\" classify \"pin.no-lockout\"\n"
                      "  skip \"later\"\n"
                      "  skip\n"
                      "  classify cert.expired\n"
                      "  metric days_left = CERT_DAYS_LEFT unit days\n"
                      "  metric x = 2.5\n"
                      "  measure sign count 50 max_p95_ms 300 min_rate 2.5 max_mean_ms LIMIT {\n"
                      "    00 2A 9E 9A 20 ${IN} 00\n"
                      "  }\n"
                      "  read-binary CERT chunk 128 max 4096\n"
                      "  read-binary SEAL\n"
                      "  cert-info CERT window 30\n"
                      "  cert-info CERT\n"
                      "  seal-info SEAL cert CERT\n"
                      "  expect data-len 64\n"
                      "  expect len DATALEN\n"
                      "  expect sw 9000 classify pin.x\n"
                      "  quit\n"
                      "}\n";
    tr_suite *s = parse_ok(src);
    const tr_stmt *b = s->tests[0].body;
    ck_assert_int_eq(count(b), 24);
    ck_assert_int_eq(nth(b, 0)->kind, TR_ST_CAPTURE);
    ck_assert_str_eq(nth(b, 0)->name, "SERIAL");
    const tr_stmt *i = nth(b, 1);
    ck_assert_int_eq(i->kind, TR_ST_IF);
    ck_assert_int_eq(count(i->body), 1);
    ck_assert_int_eq(i->else_body->kind, TR_ST_IF);
    ck_assert_int_eq(i->else_body->else_body->kind, TR_ST_LOG);
    ck_assert_int_eq(nth(b, 2)->kind, TR_ST_REPEAT);
    ck_assert_int_eq(nth(b, 2)->body->kind, TR_ST_POWER_CYCLE);
    ck_assert_int_eq(nth(b, 3)->kind, TR_ST_FOR);
    ck_assert(nth(b, 3)->flag);
    ck_assert_str_eq(nth(b, 3)->name, "I");
    ck_assert(!nth(b, 4)->flag);
    ck_assert_int_eq(nth(b, 4)->e[1]->kind, TR_EX_VAR);
    const tr_stmt *a = nth(b, 5);
    ck_assert_int_eq(a->kind, TR_ST_ASSERT);
    ck_assert_str_eq(a->classify, "sign.bad-signature");
    ck_assert_ptr_nonnull(a->message);
    ck_assert_ptr_null(nth(b, 6)->message);
    ck_assert_ptr_null(nth(b, 6)->classify);
    ck_assert_int_eq(nth(b, 7)->kind, TR_ST_FAIL);
    ck_assert_ptr_null(nth(b, 7)->message);
    ck_assert_str_eq(nth(b, 8)->classify, "pin.no-lockout");
    ck_assert_int_eq(nth(b, 9)->kind, TR_ST_SKIP);
    ck_assert_ptr_nonnull(nth(b, 9)->message);
    ck_assert_ptr_null(nth(b, 10)->message);
    ck_assert_str_eq(nth(b, 11)->classify, "cert.expired");
    ck_assert_str_eq(nth(b, 12)->unit, "days");
    ck_assert_str_eq(nth(b, 12)->name, "days_left");
    ck_assert_ptr_null(nth(b, 13)->unit);
    const tr_stmt *m = nth(b, 14);
    ck_assert_int_eq(m->kind, TR_ST_MEASURE);
    ck_assert_str_eq(m->name, "sign");
    ck_assert_int_eq(m->e[0]->ival, 50);
    ck_assert_ptr_nonnull(m->threshold[TR_TH_MAX_P95_MS]);
    ck_assert_ptr_nonnull(m->threshold[TR_TH_MIN_RATE]);
    ck_assert_ptr_nonnull(m->threshold[TR_TH_MAX_MEAN_MS]);
    ck_assert_ptr_null(m->threshold[TR_TH_MAX_MS]);
    ck_assert_int_eq(m->body->kind, TR_ST_APDU);
    ck_assert_int_eq(nth(b, 15)->e[0]->ival, 128);
    ck_assert_int_eq(nth(b, 15)->e[1]->ival, 4096);
    ck_assert_ptr_null(nth(b, 16)->e[0]);
    ck_assert_int_eq(nth(b, 17)->kind, TR_ST_CERT_INFO);
    ck_assert_ptr_nonnull(nth(b, 17)->e[1]);
    ck_assert_ptr_null(nth(b, 18)->e[1]);
    ck_assert_int_eq(nth(b, 19)->kind, TR_ST_SEAL_INFO);
    ck_assert_ptr_nonnull(nth(b, 19)->e[1]);
    ck_assert_int_eq(nth(b, 20)->kind, TR_ST_EXPECT_LEN);
    ck_assert_int_eq(nth(b, 21)->kind, TR_ST_EXPECT_LEN);
    ck_assert_int_eq(nth(b, 22)->kind, TR_ST_EXPECT_SW);
    ck_assert_str_eq(nth(b, 22)->classify, "pin.x");
    ck_assert_str_eq(nth(b, 22)->pattern_src, "9000");
    ck_assert_int_eq(nth(b, 23)->kind, TR_ST_EXIT);
    tr_suite_free(s);
    ck_assert_str_eq(tr_threshold_name(TR_TH_MAX_P95_MS), "max_p95_ms");
    ck_assert_str_eq(tr_fn_name(TR_FN_SIG_OK), "sig_ok");
    ck_assert(tr_script_builtin_var("DATALEN"));
    ck_assert(!tr_script_builtin_var("CERT"));
}
END_TEST

START_TEST(skip_not_run)
{
    tr_suite *s = parse_ok("test \"a\" {\n"
                           "  skip \"no serial for ${SLOT}\" classify not-run.no-expected-serial\n"
                           "  skip classify \"not-run.x\"\n"
                           "  skip \"plain\"\n"
                           "}\n");
    const tr_stmt *b = s->tests[0].body;
    ck_assert_int_eq(nth(b, 0)->kind, TR_ST_SKIP);
    ck_assert_str_eq(nth(b, 0)->classify, "not-run.no-expected-serial");
    ck_assert_ptr_nonnull(nth(b, 0)->message);
    ck_assert_str_eq(nth(b, 1)->classify, "not-run.x");
    ck_assert_ptr_null(nth(b, 1)->message);
    ck_assert_ptr_null(nth(b, 2)->classify);
    tr_suite_free(s);
}
END_TEST

START_TEST(byte_order_mark)
{
    tr_suite *s = parse_ok("\xEF\xBB\xBF" "00 A4 04 00 00\r\n");
    ck_assert_uint_eq(s->tests[0].body->nbytes, 5);
    tr_suite_free(s);
    parse_err("\xEF\xBB\xBF" "zz\n", 1, 1, "expected a statement");
}
END_TEST

START_TEST(comments_and_strings)
{
    /* '#' in a string is not a comment; a '\' inside a comment does not continue */
    tr_suite *s = parse_ok("log \"a # b\" # c \\\n00 A4 00 00 # \"unclosed\n");
    const tr_stmt *b = s->tests[0].body;
    ck_assert_int_eq(count(b), 2);
    ck_assert_str_eq(b->message->str.text, "a # b");
    tr_suite_free(s);
}
END_TEST

START_TEST(load_file)
{
    char path[] = "/tmp/check_script_XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    const char *src = "00 A4 04 00 00\n";
    ck_assert_int_eq(write(fd, src, strlen(src)), (ssize_t)strlen(src));
    close(fd);
    tr_suite *s;
    tr_err e;
    ck_assert_int_eq(tr_suite_load(path, &s, &e), 0);
    ck_assert_str_eq(s->file, path);
    tr_suite_free(s);
    unlink(path);
    ck_assert_int_eq(tr_suite_load(path, &s, &e), -1);
    ck_assert_int_eq(e.code, TR_E_IO);
    ck_assert_ptr_null(s);
}
END_TEST

/* ---- every error ------------------------------------------------------------------------ */

typedef struct {
    const char *src;
    int line, col;
    const char *msg;
} err_case;

static const err_case errors[] = {
    {"foo bar\n", 1, 1, "expected a statement (test, expect, let"},
    {"00 A4 0 00\n", 1, 7, "two hex digits per byte, found an odd number (1) in '0'"},
    {"00 A4 00 zz\n", 1, 10, "expected hex digits of the APDU (or 'expect'), found 'zz'"},
    {"00 A4\n", 1, 1, "expected an APDU of at least 4 bytes (CLA INS P1 P2), found 2"},
    {"log \"abc\n", 1, 9, "expected '\"' to close the string opened at column 5, found end of line"},
    {"log \"a\\q\"\n", 1, 7, "after '\\', found '\\q'"},
    {"test \"x\"\n", 1, 9, "expected '{' at the end of the test line, found end of line"},
    {"test \"x\" {\n00 A4 00 00\n", 1, 1, "expected '}' to close the block opened here, found end of file"},
    {"}\n", 1, 1, "expected a statement, found '}' (no block is open)"},
    {"test \"a\" {\n test \"b\" {\n }\n}\n", 2, 2, "found 'test' (a test cannot be inside a block)"},
    {"test \"a\" {\n}\n00 A4 00 00\n", 3, 1, "expected a test block, found a statement outside any test"},
    {"expect 90\n", 1, 8, "expected a status word pattern (4 hex digits, x or ? wildcards, | alternatives), found '90': '90' is not 4 digits"},
    {"expect 9000|6G00\n", 1, 14, "found 'G00'"},
    {"expect\n", 1, 7, "expected a status word pattern"},
    {"expect data 123\n", 1, 13, "odd number of hex digits (3)"},
    {"expect data 12 * 34\n", 1, 13, "'*' may only end a data pattern"},
    {"let = 3\n", 1, 5, "expected a variable name, found '='"},
    {"let X 3\n", 1, 7, "expected '=' after the variable name, found '3'"},
    {"let SW = 1\n", 1, 5, "expected a variable name, found built-in 'SW'"},
    {"let X = (1 + 2\n", 1, 15, "expected ')' to close '(' at column 9, found end of line"},
    {"let X = foo(1)\n", 1, 9, "expected a function (byte sub tlv"},
    {"let X = sub(\"00\")\n", 1, 9, "expected 2 to 3 arguments to sub(), found 1"},
    {"let X = int()\n", 1, 9, "expected 1 argument to int(), found 0"},
    {"let X = tlv_trailing(\"00\", 1)\n", 1, 9, "expected 1 argument to tlv_trailing(), found 2"},
    {"let X = sig_ok(1, 2)\n", 1, 9, "expected 4 arguments to sig_ok(), found 2"},
    {"let X = 1 +\n", 1, 12, "expected an expression, found end of line"},
    {"let X = 99999999999999999999\n", 1, 9, "expected an integer that fits in 63 bits"},
    {"let X = 12ab\n", 1, 9, "expected a number (decimal or 0x hex), found '12ab'"},
    {"let X = 0x\n", 1, 9, "expected a number (decimal or 0x hex), found '0x'"},
    {"let X = \"a\" \"b\"\n", 1, 13, "expected end of line after the value, found '\"b\"'"},
    {"let X = 1 )\n", 1, 11, "expected end of line after the value, found ')'"},
    {"let X = \"${pin:}\"\n", 1, 16, "expected an expression, found '}'"},
    {"let X = concat(1 2)\n", 1, 18, "expected ',' or ')' in the arguments of concat(), found '2'"},
    {"let A-B = 1\n", 1, 5, "expected a variable name (letters, digits, _), found 'A-B'"},
    {"00 ${X 00 00\n", 1, 8, "expected '}' to close '${' at column 4, found '00'"},
    {"00 ${foo:X} 00 00\n", 1, 6, "expected a function (pin, hex, hex2, nib, ascii, len) before ':', found 'foo'"},
    {"00 ${} 00 00\n", 1, 6, "expected a variable name, '=' or a function after '${', found '}'"},
    {"if 1 = 2 {\n}\n", 1, 6, "expected '{' at the end of the if line, found '=' (compare with ==)"},
    {"if 1 {\n} elsif {\n}\n", 2, 3, "expected end of line or 'else' after '}', found 'elsif'"},
    {"if 1 {\n} else if 2 {\n} else {\n} else {\n}\n", 4, 3, "expected end of line after '}', found 'else'"},
    {"repeat 2 {\n} else {\n}\n", 2, 3, "found 'else' (else follows only an if block)"},
    {"else {\n", 1, 1, "expected a statement, found 'else' (write '} else {' after an if block)"},
    {"reset hot\n", 1, 7, "expected 'cold' or 'warm' after reset, found 'hot'"},
    {"for I 1 to 2 {\n}\n", 1, 7, "expected '=' after the loop variable, found '1'"},
    {"for I = 1 upto 2 {\n}\n", 1, 11, "expected 'to' or 'downto' after the start value, found 'upto'"},
    {"for DATA = 1 to 2 {\n}\n", 1, 5, "expected a loop variable name, found built-in 'DATA'"},
    {"measure m 10 {\n}\n", 1, 11, "expected 'count' after the measure name, found '10'"},
    {"measure m count 10 max_p90_ms 5 {\n}\n", 1, 20, "expected a threshold (max_mean_ms"},
    {"measure m count 1 min_rate 1 min_rate 2 {\n}\n", 1, 30, "expected each threshold once, found min_rate twice"},
    {"measure a count 1 {\n measure b count 1 {\n }\n}\n", 2, 2, "(measure blocks cannot be nested)"},
    {"test \"a\" {\n 00 A4 00 00\n requires 1\n}\n", 3, 2, "expected 'requires' at the start of the test, before its first statement"},
    {"test \"a\" {\n if 1 {\n  destructive\n }\n}\n", 3, 3, "expected 'destructive' at the start of a test or at the top of the file, found it inside a block"},
    {"test \"a\" {\n}\ntest \"a\" {\n}\n", 3, 6, "expected a unique test name, found \"a\" again (first at line 1)"},
    {"test \"\" {\n}\n", 1, 6, "expected a non-empty test name"},
    {"test \"${X}\" {\n}\n", 1, 6, "expected a plain test name without ${...}"},
    {"test x {\n}\n", 1, 6, "expected the test name as a \"string\" after 'test', found 'x'"},
    {"suite \"a\"\nsuite \"b\"\n", 2, 1, "expected one suite header, found a second (first at line 1)"},
    {"test \"a\" {\n}\nsuite \"x\"\n", 3, 1, "expected the suite header before the first test"},
    {"suite name\n", 1, 7, "expected the suite name as a \"string\", found 'name'"},
    {"cleanup {\n}\n", 1, 1, "expected 'cleanup' directly inside a test block"},
    {"test \"a\" {\n cleanup {\n }\n cleanup {\n }\n}\n", 4, 2, "expected one cleanup block per test, found a second"},
    {"assert 1 \"m\" classify\n", 1, 22, "expected a classification code (like pin.no-lockout), found end of line"},
    {"classify 9x\n", 1, 10, "expected a classification code (like pin.no-lockout), found '9x'"},
    {"fail \"x\" classify \"a$b\"\n", 1, 19, "as a word or a plain non-empty \"string\""},
    {"metric m 3\n", 1, 10, "expected '=' after the metric name, found '3'"},
    {"metric m = 1 unit\n", 1, 18, "expected a unit"},
    {"log \"a\" b\n", 1, 9, "expected end of line after the log text, found 'b'"},
    {"skip reason\n", 1, 6, "expected end of line after the reason, found 'reason'"},
    /* a skip's code says the run left the test out: not-run.* only */
    {"skip \"x\" classify pin.no-lockout\n", 1, 19, "expected a not-run.* code after a skip's classify"},
    {"skip classify not-run.\n", 1, 15, "expected a not-run.* code after a skip's classify"},
    {"skip \"x\" classify\n", 1, 18, "expected a not-run.* code (like not-run.no-expected-serial), found end of line"},
    {"skip \"x\" classify not-run.a b\n", 1, 29, "expected end of line after the classification, found 'b'"},
    {"capture 1X\n", 1, 9, "expected a variable name, found '1X'"},
    /* a mark names one candidate: no `else` */
    {"journal user try A_PIN else B_PIN\n", 1, 24, "expected end of line after the journal record, found 'else'"},
    {"read-binary C size 3\n", 1, 15, "expected 'chunk', 'max' or end of line, found 'size'"},
    {"read-binary C chunk 3 chunk 4\n", 1, 28, "expected each option once, found 'chunk' twice"},
    {"power-cycle now\n", 1, 13, "expected end of line after power-cycle, found 'now'"},
    {"exit now\n", 1, 6, "expected end of line after exit, found 'now'"},
    {"QUIT now\n", 1, 6, "expected end of line after quit, found 'now'"},
    {"letter = 1\n", 1, 1, "expected a statement (test, expect, let"},
    {"Power-Cycle 1\n", 1, 13, "expected end of line after power-cycle, found '1'"},
    {"test \"a\" {\n log \"x\"\n destructive\n}\n", 3, 2, "expected 'destructive' at the start of the test, before its first statement"},
    {"test \"a\" {\n requires 1\n destructive\n requires 2\n cleanup {\n }\n requires 3\n}\n", 7, 2, "expected 'requires' at the start of the test, before its first statement"},
    {"00 A4 00 00 expect\n", 1, 19, "expected a status word pattern"},
    {"expect 9000 classify\n", 1, 21, "expected a classification code (like pin.no-lockout), found end of line"},
    {"expect data 01 classify x y\n", 1, 27, "expected end of line after the classification, found 'y'"},
    {"expect len 3 classify\n", 1, 22, "expected a classification code"},
    {"00 A4 00 00 expect data\n", 1, 24, "expected a data pattern (hex digits, ?? wildcards, final *), found end of line"},
    {"requires\n", 1, 9, "expected an expression, found end of line"},
    {"cert-info\n", 1, 10, "expected an expression, found end of line"},
    {"seal-info S cert\n", 1, 17, "expected an expression, found end of line"},
    {"seal-info S trust\n", 1, 18, "expected an expression, found end of line"},
    {"cert-info C window 3 window 4\n", 1, 28, "expected each option once, found 'window' twice"},
    {"seal-info S cert C trust R trust Q\n", 1, 33, "expected each option once, found 'trust' twice"},
    {"cert-info C cert D\n", 1, 13, "expected 'window', 'trust' or end of line, found 'cert'"},
    {"seal-info S window 3\n", 1, 13, "expected 'cert', 'trust' or end of line, found 'window'"},
    {"00 A4 \\\n zz 00\n", 2, 2, "expected hex digits of the APDU (or 'expect'), found 'zz'"},
    {"\x01\n", 1, 1, "expected text, found control character 0x01"},
    {"00 A4 00 00\n\x7f", 2, 1, "expected text, found control character 0x7F"},
    {"log \"\xe4\xb8\xad\" \xe4\n", 1, 11, /* columns count bytes */ "expected end of line after the log text, found byte 0xE4"},
};

/* cert-info / seal-info options: any order, each in its own slot. */
START_TEST(info_options)
{
    tr_suite *s = parse_ok("cert-info CERT trust CA_ROOT window 30\n"
                           "cert-info CERT trust \"/etc/ca.der\"\n"
                           "seal-info SEAL trust SEAL_MAKER_ROOT cert CERT\n"
                           "seal-info SEAL\n");
    const tr_stmt *b = s->tests[0].body;
    ck_assert_int_eq(b->kind, TR_ST_CERT_INFO);
    ck_assert(b->e[0] && b->e[1] && b->e[2]);
    ck_assert_str_eq(b->e[2]->name, "CA_ROOT");
    b = b->next;
    ck_assert(b->e[0] && !b->e[1] && b->e[2]);
    b = b->next;
    ck_assert_int_eq(b->kind, TR_ST_SEAL_INFO);
    ck_assert(b->e[1] && b->e[2]);
    ck_assert_str_eq(b->e[1]->name, "CERT");
    ck_assert_str_eq(b->e[2]->name, "SEAL_MAKER_ROOT");
    b = b->next;
    ck_assert(b->e[0] && !b->e[1] && !b->e[2]);
    tr_suite_free(s);
}
END_TEST

START_TEST(every_error)
{
    const err_case *c = &errors[_i];
    parse_err(c->src, c->line, c->col, c->msg);
}
END_TEST

START_TEST(bounds)
{
    /* NUL byte */
    parse_err_n("00 A4\0 00 00\n", 12, 1, 6, "expected text, found a NUL byte");
    /* long line */
    char *line = malloc(5002);
    memset(line, 'A', 5000);
    line[5000] = '\n';
    line[5001] = '\0';
    parse_err(line, 1, 4097, "expected at most 4096 characters on a line, found 5000");
    free(line);
    /* file too large */
    size_t big = TR_SCRIPT_MAX_FILE + 1;
    char *f = malloc(big);
    memset(f, '\n', big);
    parse_err_n(f, big, 1, 1, "expected a suite of at most");
    free(f);
    /* nesting: the 33rd nested block is refused where it opens */
    char nest[2000] = "";
    for (int k = 0; k < 33; k++)
        strcat(nest, "if 1 {\n");
    parse_err(nest, 33, 1, "expected blocks nested at most 32 deep");
    /* 32 deep is fine */
    char ok[2000] = "";
    for (int k = 0; k < 32; k++)
        strcat(ok, "if 1 {\n");
    for (int k = 0; k < 32; k++)
        strcat(ok, "}\n");
    tr_suite *s = parse_ok(ok);
    tr_suite_free(s);
    /* expression depth */
    char ex[400] = "let X = ";
    for (int k = 0; k < 70; k++)
        strcat(ex, "(");
    strcat(ex, "1");
    for (int k = 0; k < 70; k++)
        strcat(ex, ")");
    parse_err(ex, 1, 73, "expected an expression nested at most 64 deep");
    /* unary chains count too */
    char un[400] = "let X = ";
    for (int k = 0; k < 100; k++)
        strcat(un, "-");
    strcat(un, "1");
    parse_err(un, 1, 72, "expected an expression nested at most 64 deep");
    /* too many requires */
    char rq[400] = "";
    for (int k = 0; k < 9; k++)
        strcat(rq, "requires 1\n");
    parse_err(rq, 9, 1, "expected at most 8 requires lines, found more");
    /* continued lines: a logical line over the limit */
    char *cont = malloc(20 * 4002 + 1);
    cont[0] = '\0';
    for (int k = 0; k < 20; k++) {
        for (int j = 0; j < 1333; j++)
            strcat(cont, "00 ");
        strcat(cont, "\\\n"); /* 4000 characters, then the newline */
    }
    parse_err(cont, 17, 1, "expected at most 65536 characters in a continued line");
    free(cont);
    /* many continuation segments */
    char *segs = malloc(3 * 1100 + 1);
    segs[0] = '\0';
    for (int k = 0; k < 1100; k++)
        strcat(segs, "0\\\n");
    parse_err(segs, 1025, 1, "expected at most 1024 continued lines, found more");
    free(segs);
    /* 16 alternatives is the most an SW pattern may have */
    char alts[200] = "expect 9000";
    for (int k = 0; k < 16; k++)
        strcat(alts, "|9000");
    parse_err(alts, 1, 8, "more than 16 alternatives");
}
END_TEST

static Suite *script_suite(void)
{
    Suite *s = suite_create("script");
    TCase *tc = tcase_create("parse");
    tcase_add_test(tc, scriptor_plain);
    tcase_add_test(tc, scriptor_name_and_attributes);
    tcase_add_test(tc, test_blocks);
    tcase_add_test(tc, skip_not_run);
    tcase_add_test(tc, apdu_templates);
    tcase_add_test(tc, sw_patterns);
    tcase_add_test(tc, expressions);
    tcase_add_test(tc, statements);
    tcase_add_test(tc, info_options);
    tcase_add_test(tc, comments_and_strings);
    tcase_add_test(tc, byte_order_mark);
    tcase_add_test(tc, load_file);
    suite_add_tcase(s, tc);
    TCase *te = tcase_create("errors");
    tcase_add_loop_test(te, every_error, 0, (int)(sizeof errors / sizeof errors[0]));
    tcase_add_test(te, bounds);
    tcase_set_timeout(te, 30);
    suite_add_tcase(s, te);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(script_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
