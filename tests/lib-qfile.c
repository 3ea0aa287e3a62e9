/* lib-qfile - the parsers of qmail-send's queue files, on good and
 * hostile input */
#include <string.h>

#include "qfile.h"
#include "tap.h"

#define B(s) s, sizeof s - 1

int
main(void)
{
	struct qinfo qi;
	struct qbounce b;
	const char *a, *f;
	size_t pos, off, al, fl;
	int d, r, n;

	ok(qfile_info(B("t1700000000\0Fa@b.test\0"), &qi) == 1, "info: good");
	ok(qi.arrival == 1700000000 && qi.senderlen == 8 && memcmp(qi.sender, "a@b.test", 8) == 0,
	    "info: time and sender");
	ok(qfile_info(B("t5\0F\0"), &qi) == 1 && qi.senderlen == 0, "info: null sender");
	ok(qfile_info(B("t5\0Fa\0x"), &qi) == 0, "info: trailing bytes");
	ok(qfile_info(B("t5\0Fa"), &qi) == 0, "info: no final NUL");
	ok(qfile_info(B("t05\0Fa\0"), &qi) == 0, "info: leading zero");
	ok(qfile_info(B("t\0Fa\0"), &qi) == 0, "info: no digits");
	ok(qfile_info(B("t99999999999999999999999\0Fa\0"), &qi) == 0, "info: overflow");
	ok(qfile_info(B("Fa\0t5\0"), &qi) == 0, "info: wrong order");
	ok(qfile_info("", 0, &qi) == 0, "info: empty");

	pos = 0;
	n = 0;
	while ((r = qfile_rcpt(B("Ta@b\0Dc@d\0"), &pos, &off, &d, &a, &al)) == 1)
		n++;
	ok(r == 0 && n == 2, "rcpt: two records");
	pos = 0;
	(void)qfile_rcpt(B("Ta@b\0Dc@d\0"), &pos, &off, &d, &a, &al);
	r = qfile_rcpt(B("Ta@b\0Dc@d\0"), &pos, &off, &d, &a, &al);
	ok(r == 1 && off == 5 && d == 1 && al == 3 && memcmp(a, "c@d", 3) == 0, "rcpt: offset and done");
	pos = 0;
	ok(qfile_rcpt(B("Xa@b\0"), &pos, &off, &d, &a, &al) == -1, "rcpt: bad tag");
	pos = 0;
	ok(qfile_rcpt(B("T\0"), &pos, &off, &d, &a, &al) == 1 && al == 0, "rcpt: empty address");
	pos = 0;
	ok(qfile_rcpt(B("Ta@b"), &pos, &off, &d, &a, &al) == -1, "rcpt: torn record");
	{
		static char big[QFILE_ADDRMAX + 3];

		memset(big, 'x', sizeof big);
		big[0] = 'T';
		big[sizeof big - 1] = 0;
		pos = 0;
		ok(qfile_rcpt(big, sizeof big, &pos, &off, &d, &a, &al) == -1, "rcpt: address too long");
		big[sizeof big - 2] = 0;
		pos = 0;
		ok(qfile_rcpt(big, sizeof big - 1, &pos, &off, &d, &a, &al) == 1, "rcpt: longest address");
	}

	pos = 0;
	r = qfile_bounce(B("Ra@b\0S5.1.1\0Mhost\0Xno such user\0"), &pos, &b);
	ok(r == 1 && b.rcptlen == 3 && b.statuslen == 5 && b.mtalen == 4 && b.textlen == 12,
	    "bounce: a record");
	ok(qfile_bounce(B("Ra@b\0S5.1.1\0Mhost\0Xno such user\0"), &pos, &b) == 0, "bounce: then the end");
	pos = 0;
	ok(qfile_bounce(B("Ra@b\0S5.1.1\0Mhost\0Xno such user\0Rc@d\0S5."), &pos, &b) == 1 &&
	    qfile_bounce(B("Ra@b\0S5.1.1\0Mhost\0Xno such user\0Rc@d\0S5."), &pos, &b) == 0,
	    "bounce: a torn last record ends the list");
	pos = 0;
	ok(qfile_bounce(B("Ra@b\0S9.1.1\0M\0X\0"), &pos, &b) == -1, "bounce: bad status class");
	pos = 0;
	ok(qfile_bounce(B("Ra@b\0S5.1111.1\0M\0X\0"), &pos, &b) == -1, "bounce: status subject too long");
	pos = 0;
	ok(qfile_bounce(B("Sa@b\0R5.1.1\0M\0X\0"), &pos, &b) == -1, "bounce: tags out of order");
	pos = 0;
	ok(qfile_bounce(B("R\0S5.1.1\0M\0X\0"), &pos, &b) == 1 && b.rcptlen == 0, "bounce: empty recipient");

	ok(qfile_status_ok(B("5.1.1")) && qfile_status_ok(B("4.123.999")) && qfile_status_ok(B("2.0.0")),
	    "status: good codes");
	ok(!qfile_status_ok(B("5.1")) && !qfile_status_ok(B("3.1.1")) && !qfile_status_ok(B("5..1")) &&
	    !qfile_status_ok(B("5.1.1 ")) && !qfile_status_ok(B("5.1.1234")),
	    "status: bad codes");

	pos = 0;
	ok(qfile_field(B("ab\0c"), &pos, &f, &fl) == 1 && fl == 2 &&
	    qfile_field(B("ab\0c"), &pos, &f, &fl) == -1, "field: a field, then a torn one");
	return tap_done();
}
