/* lib-maildir - maildir_make, maildir_name and maildir_deliver */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "maildir.h"
#include "tap.h"

/* count - entries of dir other than . and .. */
static int
count(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

static int
name_ok(const char *s)
{
	const char *p = s;

	if (*p < '0' || *p > '9')
		return 0;
	while (*p >= '0' && *p <= '9')
		p++;
	if (strncmp(p, ".M", 2))
		return 0;
	for (p += 2; *p >= '0' && *p <= '9'; p++)
		;
	if (*p++ != 'P')
		return 0;
	while (*p >= '0' && *p <= '9')
		p++;
	if (*p == 'Q')
		for (p++; *p >= '0' && *p <= '9'; p++)
			;
	if (*p++ != '.' || *p == 0)
		return 0;
	return strchr(p, '/') == NULL && strchr(p, ':') == NULL;
}

int
main(void)
{
	char dir[] = "/tmp/lib-maildir.XXXXXX";
	char md[128], sub[160], path[300], got[200];
	struct str name = STR_ZERO, where = STR_ZERO, prev = STR_ZERO;
	const char body[] = "Subject: x\n\nbody\n";
	int in, fd, i, distinct = 1;
	ssize_t r;

	if (!mkdtemp(dir))
		return perror("mkdtemp"), 1;
	snprintf(md, sizeof md, "%s/Maildir", dir);
	ok(maildir_make(md) == 1, "maildir_make");
	ok(maildir_make(md) == 1, "maildir_make on an existing Maildir");
	snprintf(sub, sizeof sub, "%s/cur", md);
	ok(count(sub) == 0, "cur/ exists");

	i = maildir_name(&name, 0);
	ok(i == 1 && name_ok(name.s), "name %s", name.s);
	i = maildir_name(&name, 7);
	ok(i == 1 && strstr(name.s, "Q7.") != NULL && name_ok(name.s), "retry name %s", name.s);

	snprintf(path, sizeof path, "%s/input", dir);
	if ((fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600)) == -1 ||
	    write(fd, body, sizeof body - 1) != (ssize_t)(sizeof body - 1))
		return perror("input"), 1;
	in = fd;
	for (i = 0; i < 20; i++) {
		lseek(in, 0, SEEK_SET);
		if (maildir_deliver(md, "Return-Path: <a@b>\n", 19, in, &where) != 1)
			break;
		if (prev.len && prev.len == where.len && memcmp(prev.s, where.s, prev.len) == 0)
			distinct = 0;
		str_copyb(&prev, where.s, where.len);
	}
	ok(i == 20, "20 deliveries in a row");
	snprintf(sub, sizeof sub, "%s/new", md);
	ok(count(sub) == 20 && distinct, "20 distinct names in new/");
	snprintf(sub, sizeof sub, "%s/tmp", md);
	ok(count(sub) == 0, "tmp/ is empty afterwards");

	snprintf(path, sizeof path, "%s/%s", md, where.s);
	fd = open(path, O_RDONLY);
	r = fd == -1 ? -1 : read(fd, got, sizeof got);
	ok(r == 19 + (ssize_t)sizeof body - 1 && memcmp(got, "Return-Path: <a@b>\n", 19) == 0 &&
	    memcmp(got + 19, body, sizeof body - 1) == 0, "content: header then the message");
	if (fd != -1)
		close(fd);

	/* from the current offset */
	lseek(in, 12, SEEK_SET);
	ok(maildir_deliver(md, "", 0, in, &where) == 1, "delivery from an offset");
	snprintf(path, sizeof path, "%s/%s", md, where.s);
	fd = open(path, O_RDONLY);
	r = fd == -1 ? -1 : read(fd, got, sizeof got);
	ok(r == 5 && memcmp(got, "body\n", 5) == 0, "only the rest of the input");
	if (fd != -1)
		close(fd);

	/* failures leave nothing behind */
	snprintf(path, sizeof path, "%s/nonexistent", dir);
	errno = 0;
	ok(maildir_deliver(path, "x", 1, in, NULL) == 0 && errno == ENOENT, "missing Maildir: ENOENT");
	ok(maildir_deliver(md, "x", 1, -1, NULL) == 0, "unreadable input fails");
	snprintf(sub, sizeof sub, "%s/tmp", md);
	ok(count(sub) == 0, "tmp/ is empty after a failed delivery");
	snprintf(sub, sizeof sub, "%s/new", md);
	ok(count(sub) == 21, "new/ holds only the complete messages");
	snprintf(path, sizeof path, "rm -rf '%s'", dir);
	if (system(path) != 0)
		ok(0, "cleanup");
	close(in);
	str_free(&name);
	str_free(&where);
	str_free(&prev);
	return tap_done();
}
