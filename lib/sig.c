/* sig.c - signal helpers; see sig.h */
#include <signal.h>
#include <stddef.h>

#include "sig.h"

static int
set(int sig, void (*handler)(int))
{
	struct sigaction sa;

	sa.sa_handler = handler;
	sa.sa_flags = 0;	/* no SA_RESTART: a signal must end a blocking call */
	sigemptyset(&sa.sa_mask);
	return sigaction(sig, &sa, NULL) == 0;
}

int
sig_catch(int sig, void (*handler)(int))
{
	return set(sig, handler);
}

int
sig_ignore(int sig)
{
	return set(sig, SIG_IGN);
}

int
sig_default(int sig)
{
	return set(sig, SIG_DFL);
}

static int
mask(int how, int sig)
{
	sigset_t ss;

	sigemptyset(&ss);
	sigaddset(&ss, sig);
	return sigprocmask(how, &ss, NULL) == 0;
}

int
sig_block(int sig)
{
	return mask(SIG_BLOCK, sig);
}

int
sig_unblock(int sig)
{
	return mask(SIG_UNBLOCK, sig);
}

void
sig_pause(void)
{
	sigset_t ss;

	sigemptyset(&ss);
	sigsuspend(&ss);
}

int
sig_helper(void)
{
	return sig_ignore(SIGTERM) && sig_ignore(SIGHUP) && sig_ignore(SIGALRM) &&
	    sig_ignore(SIGINT) && sig_ignore(SIGPIPE);
}
