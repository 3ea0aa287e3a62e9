/* lib-authnets - matching client addresses against networks of
 * control/plaintextauthnets: IPv4, IPv6, mapped addresses, odd prefix
 * lengths, junk lines and junk addresses; the IPv6 lines of
 * control/relaynets */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "authnets.h"
#include "env.h"
#include "tap.h"

#define L(s) s, sizeof s - 1

int
main(void)
{
	static const char nets[] = "127.0.0.0/8\0::1\0" "10.1.0.0/16\0" "192.0.2.7\0"
	    "2001:db8::/32\0" "198.51.100.128/25\0" "fe80::/10\0";
	static const char none[] = "";
	static const char all4[] = "0.0.0.0/0\0";

	ok(authnets_match(L(nets), "127.0.0.1") == 1, "127.0.0.1 in 127/8");
	ok(authnets_match(L(nets), "127.255.3.4") == 1, "127.255.3.4 in 127/8");
	ok(authnets_match(L(nets), "128.0.0.1") == 0, "128.0.0.1 not");
	ok(authnets_match(L(nets), "::1") == 1, "::1");
	ok(authnets_match(L(nets), "::2") == 0, "::2 not");
	ok(authnets_match(L(nets), "::ffff:127.0.0.1") == 1, "mapped ::ffff:127.0.0.1 as IPv4");
	ok(authnets_match(L(nets), "::ffff:128.0.0.1") == 0, "mapped ::ffff:128.0.0.1 not");
	ok(authnets_match(L(nets), "10.1.255.255") == 1, "10.1.255.255 in 10.1/16");
	ok(authnets_match(L(nets), "10.2.0.0") == 0, "10.2.0.0 not");
	ok(authnets_match(L(nets), "192.0.2.7") == 1, "bare address matches itself");
	ok(authnets_match(L(nets), "192.0.2.8") == 0, "and nothing else");
	ok(authnets_match(L(nets), "198.51.100.128") == 1, "/25 lower edge");
	ok(authnets_match(L(nets), "198.51.100.255") == 1, "/25 upper edge");
	ok(authnets_match(L(nets), "198.51.100.127") == 0, "/25 below");
	ok(authnets_match(L(nets), "2001:db8:ffff::1") == 1, "2001:db8::/32");
	ok(authnets_match(L(nets), "2001:db9::1") == 0, "2001:db9:: not");
	ok(authnets_match(L(nets), "fe80::1%eth0") == 1, "zone id ignored");
	ok(authnets_match(L(nets), "febf::1") == 1, "fe80::/10 upper edge");
	ok(authnets_match(L(nets), "fec0::1") == 0, "fec0:: outside fe80::/10");
	ok(authnets_match(L(nets), "") == 0, "empty address: no");
	ok(authnets_match(L(nets), "unknown") == 0, "junk address: no");
	ok(authnets_match(L(nets), "127.0.0.1/8") == 0, "a network is not an address");
	ok(authnets_match(L(nets), NULL) == 0, "no address: no");
	ok(authnets_match(L(nets), "1111111111111111111111111111111111111111111111111111111111111111111111") == 0,
	    "over-long address: no");
	ok(authnets_match(none, 0, "127.0.0.1") == 0, "empty list trusts nobody");
	ok(authnets_match(L(all4), "203.0.113.9") == 1, "0.0.0.0/0 is every IPv4 address");
	ok(authnets_match(L(all4), "2001:db8::1") == 0, "but no IPv6 address");
	ok(authnets_match(L("::/0\0"), "2001:db8::1") == 1, "::/0 is every address");
	errno = 0;
	ok(authnets_match(L("10.0.0.0/33\0"), "10.0.0.1") == -1 && errno == EINVAL, "IPv4 /33 is junk");
	ok(authnets_match(L("::/129\0"), "::1") == -1, "IPv6 /129 is junk");
	ok(authnets_match(L("10.0.0.0/\0"), "10.0.0.1") == -1, "empty prefix is junk");
	ok(authnets_match(L("10.0.0.0/8x\0"), "10.0.0.1") == -1, "prefix with a letter is junk");
	ok(authnets_match(L("10.0.0.0/0008\0"), "10.0.0.1") == -1, "four-digit prefix is junk");
	ok(authnets_match(L("example.org\0"), "10.0.0.1") == -1, "a host name is junk");
	ok(authnets_match(L("10.0.0/8\0"), "10.0.0.1") == -1, "three-part IPv4 is junk");
	ok(authnets_match(L("127.0.0.1\0bad\0"), "127.0.0.1") == -1, "junk anywhere fails the whole list");

	/* authnets_plainok: no control/ under /, so the loopback default */
	ok(chdir("/") == 0, "chdir /");
	ok(env_set("TCPREMOTEIP", "127.0.0.1"), "set TCPREMOTEIP");
	ok(authnets_plainok() == 1, "default: 127.0.0.1 trusted");
	ok(env_set("TCPREMOTEIP", "::1"), "set TCPREMOTEIP");
	ok(authnets_plainok() == 1, "default: ::1 trusted");
	ok(env_set("TCPREMOTEIP", "127.0.0.2"), "set TCPREMOTEIP");
	ok(authnets_plainok() == 1, "default: 127.0.0.2 (loopback) trusted");
	ok(env_set("TCPREMOTEIP", "192.0.2.1"), "set TCPREMOTEIP");
	ok(authnets_plainok() == 0, "default: 192.0.2.1 not trusted");
	env_unset("TCPREMOTEIP");
	ok(authnets_plainok() == 0, "no TCPREMOTEIP: not trusted");

	/* authnets_relay6: the IPv6 lines of control/relaynets */
	ok(env_set("TCPREMOTEIP", "2001:db8:7::25"), "set TCPREMOTEIP");
	ok(authnets_relay6() == 0, "no control/relaynets: no relay");
	{
		const char *tmp = getenv("TMPDIR");
		char dir[512], path[600];
		FILE *f;

		snprintf(dir, sizeof dir, "%s/lib-authnets.XXXXXX", tmp && *tmp == '/' ? tmp : "/tmp");
		ok(mkdtemp(dir) != NULL && chdir(dir) == 0 && mkdir("control", 0755) == 0,
		    "a scratch control/");
		snprintf(path, sizeof path, "%s/control/relaynets", dir);
		f = fopen(path, "w");
		ok(f && fputs("# the lab\n192.168.1.\n10.1.2.10-40\n2001:db8:7::/48\nfd00::25\n", f) >= 0 &&
		    fclose(f) == 0, "control/relaynets with IPv4 forms tcprules takes and two IPv6 lines");
		ok(authnets_relay6() == 1, "2001:db8:7::25 in 2001:db8:7::/48 relays");
		ok(env_set("TCPREMOTEIP", "2001:db8:7:ffff::1") && authnets_relay6() == 1, "2001:db8:7:ffff::1 too");
		ok(env_set("TCPREMOTEIP", "2001:db8:8::1") && authnets_relay6() == 0, "2001:db8:8::1 does not");
		ok(env_set("TCPREMOTEIP", "fd00::25") && authnets_relay6() == 1, "the address fd00::25 relays");
		ok(env_set("TCPREMOTEIP", "fd00::26") && authnets_relay6() == 0, "fd00::26 does not");
		ok(env_set("TCPREMOTEIP", "192.168.1.5") && authnets_relay6() == 0,
		    "an IPv4 client is left to the tcprules databases");
		f = fopen(path, "a");
		ok(f && fputs("2001:db8::/200\n", f) >= 0 && fclose(f) == 0, "an IPv6 line that is junk");
		ok(env_set("TCPREMOTEIP", "fd00::25") && authnets_relay6() == -1 && errno == EINVAL,
		    "junk: -1 EINVAL");
		unlink(path);
		rmdir("control");
		ok(chdir("/") == 0 && rmdir(dir) == 0, "scratch removed");
	}
	return tap_done();
}
