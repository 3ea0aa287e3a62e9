/* pwrule.h - the rules every new password must pass
 *
 * qmail-admin applies them to every password it sets, whether typed at
 * the terminal or handed over by qmail-webadmin: at least min bytes
 * (control/minpasswordlength), not the login itself (the address, its
 * local part or its domain, compared without regard to case), and not
 * one of a short list of the passwords people pick most often.
 */
#ifndef PWRULE_H
#define PWRULE_H

#include <stddef.h>

/* pwrule_check - NULL when pw[0..n) may become the password of login
 * (an address user@domain or an administrator's name), else the reason,
 * a short English sentence fragment */
const char *pwrule_check(const char *pw, size_t n, const char *login,
    unsigned long min);

#endif
