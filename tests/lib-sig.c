/* lib-sig - unit tests for lib/sig: handlers interrupt blocking calls
 * (no SA_RESTART), blocking defers, ignoring ignores */
#include <errno.h>
#include <signal.h>
#include <unistd.h>

#include "sig.h"
#include "tap.h"

static volatile sig_atomic_t got;

static void
on(int sig)
{
	got = sig;
}

int
main(void)
{
	int fd[2];
	char c;
	ssize_t r;

	if (pipe(fd) == -1)
		return 1;
	ok(sig_catch(SIGALRM, on), "catch SIGALRM");
	alarm(1);
	errno = 0;
	r = read(fd[0], &c, 1);
	ok(r == -1 && errno == EINTR && got == SIGALRM, "a caught signal interrupts read (no SA_RESTART)");

	got = 0;
	ok(sig_catch(SIGUSR1, on) && sig_block(SIGUSR1), "block SIGUSR1");
	kill(getpid(), SIGUSR1);
	ok(got == 0, "blocked signal not delivered");
	ok(sig_unblock(SIGUSR1) && got == SIGUSR1, "delivered on unblock");

	got = 0;
	ok(sig_block(SIGUSR1), "block again");
	alarm(1);
	sig_pause();
	ok(got == SIGALRM, "sig_pause returns after a signal");
	ok(sig_unblock(SIGUSR1), "unblock");

	ok(sig_ignore(SIGUSR2), "ignore SIGUSR2");
	kill(getpid(), SIGUSR2);
	ok(1, "an ignored signal does not kill");
	ok(sig_default(SIGUSR2), "default again");
	ok(!sig_catch(SIGKILL, on) && errno == EINVAL, "SIGKILL cannot be caught");
	ok(!sig_catch(0, on), "signal 0 refused");
	return tap_done();
}
