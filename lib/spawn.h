/* spawn.h - starting programs without leaking descriptors
 *
 * Every descriptor a lanmail program opens is close-on-exec, so a child
 * gets exactly the descriptors spawn hands it.  Children start with no
 * signal blocked, every caught signal at its default action (exec does
 * that), and so every signal a program may have ignored: SIGPIPE,
 * SIGXFSZ, SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGALRM, SIGCHLD, SIGUSR1,
 * SIGUSR2, SIGTSTP, SIGTTIN and SIGTTOU.
 */
#ifndef SPAWN_H
#define SPAWN_H

#include <sys/types.h>

/* the signals a lanmail program may catch or ignore: those a child is
 * given back at their default action */
extern const int spawn_sigs[];
extern const int spawn_nsigs;

/* spawn - run path with argv and envp (NULL: the current environment);
 * the child's descriptor i is the parent's fd[i] for i < nfd, or closed
 * when fd[i] is -1.  Returns the pid, or -1 with errno. */
pid_t spawn(const char *path, char *const argv[], char *const envp[], const int *fd, int nfd);
/* spawnp - spawn, file found through $PATH when it holds no slash, as
 * execvp(3) finds it: a name in a .qmail line (|preline procmail) means
 * what it means to the shell */
pid_t spawnp(const char *file, char *const argv[], char *const envp[], const int *fd, int nfd);
/* spawn_std - spawnp of argv[0] with argv and our environment; the
 * child's descriptor 0 is in, its 1 and 2 are ours (closed where we have
 * none: a pipe for in comes from pipe_high).  The pid, or -1 with errno
 * (ENOENT: no such program). */
pid_t spawn_std(char *const argv[], int in);
/* spawn_run - spawn_std(argv, 0), then wait for it: its exit code
 * (0-255), or -1 with errno: it could not be started (ENOENT, ENOTDIR:
 * no such program) or waited for, or EINTR: a signal ended it */
int spawn_run(char *const argv[]);
/* spawn_group - spawn, the child leading a new process group (its pgid is
 * its pid), so that kill(-pid, sig) reaches whatever it starts */
pid_t spawn_group(const char *path, char *const argv[], char *const envp[], const int *fd,
    int nfd);
/* spawn_wait - waitpid, retried on EINTR; 1 reaped, -1 error */
int spawn_wait(pid_t, int *status);
/* spawn_exitcode - the exit code, or -1 when a signal ended the child */
int spawn_exitcode(int status);
/* spawn_termsig - the signal that ended the child, 0 when it exited */
int spawn_termsig(int status);
/* pipe_cloexec - pipe(2) with both ends close-on-exec */
int pipe_cloexec(int fd[2]);
/* pipe_high - pipe_cloexec with both ends above 2, for a pipe a child
 * is to get one end of.  A program started with descriptor 1 or 2
 * closed would otherwise find its pipe there, and hand it on as what it
 * takes for its own 1 or 2 (spawn_std): the child would hold the write
 * end of its own input and wait for an end that never comes. */
int pipe_high(int fd[2]);

#endif
