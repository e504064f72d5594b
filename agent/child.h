/*
 * The child's side of the agent's fork-then-exec, shared by the
 * supervisor's processes (proc.c) and the terminals' shells (pty.c).
 *
 * Between fork() and exec() the child is a copy of a process with threads
 * (libuv's pool), so only async-signal-safe calls are made there; what
 * allocates was prepared by the parent. The parent blocks every signal
 * around fork(), so that none runs an agent handler in the child; the
 * child resets every disposition, then unblocks them just before exec.
 * A failure before exec is reported to the parent as the errno through
 * sync_fd, a close-on-exec pipe whose end-of-file means the exec happened.
 */
#ifndef AGENT_CHILD_H
#define AGENT_CHILD_H

/* Parent side: the highest descriptor a child closes one by one when
 * close_range() is missing (kernels before 5.11): the RLIMIT_NOFILE soft
 * limit, at most AGENT_CHILD_FALLBACK_MAX_FD. */
#define AGENT_CHILD_FALLBACK_MAX_FD 65536
int agent_child_max_fd(void);

/* Every signal's disposition back to the default: execve() resets handled
 * signals but keeps ignored ones, and an ignored SIGPIPE (lws sets one)
 * would make "yes | head" run for ever in the child. */
void agent_child_reset_signals(void);

/* No descriptor of the agent (listening socket, terminals' masters,
 * client sockets, other children's pipes) may survive into the program:
 * every one above stderr is made close-on-exec, or closed, except sync_fd
 * (close-on-exec already). Then every signal is unblocked. */
void agent_child_before_exec(int sync_fd, int max_fd);

/* The exec (or a step before it) failed: errno to the parent, exit 127. */
void agent_child_failed(int sync_fd) __attribute__((noreturn));

#endif
