/* sig.h - signal helpers: handlers without SA_RESTART, blocking, waiting */
#ifndef SIG_H
#define SIG_H

int sig_catch(int sig, void (*handler)(int));
int sig_ignore(int sig);
int sig_default(int sig);
int sig_block(int sig);
int sig_unblock(int sig);
/* sig_pause - wait for any signal with every signal unblocked */
void sig_pause(void);
/* sig_helper - for the helpers qmail-send runs (qmail-lspawn, -rspawn,
 * -clean): they end when their pipe closes, never by a signal, so TERM,
 * HUP, ALRM, INT and PIPE are ignored; 1, or 0 with errno */
int sig_helper(void);

#endif
