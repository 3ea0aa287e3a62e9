/* authnets.h - client networks: which clients may send a password in
 * clear text, and which IPv6 clients may relay (authnets_relay6 below)
 *
 * qmail-smtpd (AUTH) and qmail-popup (USER, PASS, AUTH) take credentials
 * before TLS only from a client whose address ($TCPREMOTEIP, as set by
 * tcpserver) lies in a network of control/plaintextauthnets: one network
 * a line, "ADDRESS/BITS" or a bare ADDRESS (all bits), IPv4 or IPv6,
 * '#' comments.  A missing file means loopback only: 127.0.0.0/8 and
 * ::1.  An empty file trusts nobody.  An IPv4-mapped IPv6 client address
 * (::ffff:a.b.c.d) is matched as the IPv4 address it holds.
 */
#ifndef AUTHNETS_H
#define AUTHNETS_H

#include <stddef.h>

#define AUTHNETS_FILE "control/plaintextauthnets"
#define RELAYNETS_FILE "control/relaynets"

/* authnets_match - is ip (NUL-terminated, untrusted) in one of the
 * networks of list (control_readlist form: "net\0net\0", len bytes)?
 * 1 yes, 0 no (also for an ip that is not an address), -1 with errno
 * EINVAL when a line of list is not a network. */
int authnets_match(const char *list, size_t len, const char *ip);

/* authnets_plainok - may this client ($TCPREMOTEIP) send credentials
 * without TLS?  1 yes, 0 no (also when $TCPREMOTEIP is unset), -1 with
 * errno when the control file is unreadable or holds junk (callers
 * then refuse, as for 0, and log why). */
int authnets_plainok(void);

/* authnets_relay6 - may this IPv6 client ($TCPREMOTEIP holding a ':')
 * relay?  Yes when it lies in a network of control/relaynets written
 * in IPv6 ("ADDRESS/BITS" or an ADDRESS, the lines holding a ':'); the
 * IPv4 lines are compiled into the tcprules databases by mkrules, which
 * sets RELAYCLIENT for those clients, and are passed over here.  1 yes,
 * 0 no (also for an IPv4 client, a missing file or no IPv6 line), -1
 * with errno when the file is unreadable or an IPv6 line is junk. */
int authnets_relay6(void);

#endif
