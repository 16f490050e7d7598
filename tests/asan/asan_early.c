/*
 * asan_early.c: preloaded after the ASan runtime into the postmaster (see
 * run_asan.sh and env.md section 4).
 *
 * libgpg-error's constructor calls bindtextdomain(), which holds glibc's
 * _nl_state_lock; the first malloc inside it starts ASan's initialisation,
 * which takes the same lock through dlerror(), and the process deadlocks.
 * Interposing bindtextdomain and doing one malloc before forwarding makes
 * ASan initialise outside the lock.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>

char *
bindtextdomain(const char *domainname, const char *dirname)
{
	static char *(*real) (const char *, const char *);
	void	   *volatile p = malloc(1);	/* volatile: gcc -O2 would drop free(malloc(1)) */

	free(p);
	if (!real)
		real = (char *(*) (const char *, const char *)) dlsym(RTLD_NEXT, "bindtextdomain");
	return real(domainname, dirname);
}
