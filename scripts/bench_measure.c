/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * bench_measure: run one command and print what the whole process tree cost, as one
 * machine-readable line, for scripts/bench.sh.
 *
 * Usage: bench_measure [-o FILE] [-t SECONDS] [-T SECONDS] [-s SIGNAL] [-g GRACE] [-P]
 *                      [-W FILE -m STRING] -- COMMAND [ARGS...]
 *   -o FILE     append the result line to FILE (default: standard error)
 *   -t SECONDS  after SECONDS (counted from the mark when -m is given), send SIGNAL to the
 *               command's process group (default: no limit)
 *   -T SECONDS  hard limit counted from the start, handled like -t (default: none)
 *   -W FILE, -m STRING
 *               the mark: when STRING first appears in FILE (typically the command's own
 *               log, polled every 20 ms), record the CPU seconds the tree has used so far
 *               (mark_cpu_s) and the wall time (mark_wall_s). A benchmark that must not count
 *               its start-up (EAL memory, loading a capture into mbufs) divides by
 *               cpu_s - mark_cpu_s. -1 when the string never appeared.
 *   -s SIGNAL   signal number for -t (default 2, SIGINT); 0 sends none (use with -P)
 *   -P          the command's stdin is a pipe that bench_measure keeps open and closes when
 *               -t or -T expires: a program that stops at end of input (dpdk-testpmd without
 *               --interactive) ends cleanly and prints its statistics
 *   -g GRACE    seconds to wait after the signal, or after the command exits while its own
 *               descendants still run, before SIGKILL (default 10)
 * SIGINT, SIGTERM and SIGHUP sent to bench_measure are forwarded to the whole tree (it runs in
 * its own process group) and then handled like the end of -t.
 *
 * Output: "BENCH_MEASURE exit=N signal=N timed_out=0|1 user_s=U sys_s=S cpu_s=U+S wall_s=W
 *          maxrss_kb=K tree_rss_kb=T mark_cpu_s=C mark_wall_s=M"
 *
 * How the tree is counted: bench_measure makes itself a child subreaper
 * (PR_SET_CHILD_SUBREAPER), so descendants that the command leaves behind (daemonised
 * plugins, processes it did not wait for) are re-parented to it instead of to init. It reaps
 * every one of them before it reads getrusage(RUSAGE_CHILDREN), which then holds the user and
 * system time of every process and thread of the tree (a process's rusage already includes
 * the children it waited for itself). maxrss_kb is ru_maxrss of RUSAGE_CHILDREN: the peak of
 * the largest single process. tree_rss_kb is the peak of the sum of the resident set sizes of
 * all live descendants, sampled every 20 ms by walking /proc/PID/task/TID/children; it
 * catches multi-process tools (pmacctd core + plugin) that ru_maxrss would under-count.
 * wall_s runs from fork until the last process of the tree was reaped (after a SIGKILL from
 * -g, that includes the grace period).
 */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SAMPLE_NS 20000000L /* RSS sampling and reaping period: 20 ms */
#define MAX_TREE 4096       /* descendants followed by the RSS walk */

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double tv_s(const struct timeval *tv)
{
    return (double)tv->tv_sec + (double)tv->tv_usec / 1e6;
}

/** Resident set size of @p pid in kB from /proc/PID/statm, 0 if it is gone. */
static unsigned long rss_kb(pid_t pid)
{
    char path[64];
    unsigned long size = 0, resident = 0;
    FILE *f;

    snprintf(path, sizeof(path), "/proc/%d/statm", (int)pid);
    f = fopen(path, "r");
    if (f == NULL)
        return 0;
    if (fscanf(f, "%lu %lu", &size, &resident) != 2)
        resident = 0;
    fclose(f);
    return resident * (unsigned long)(sysconf(_SC_PAGESIZE) / 1024);
}

/** Append the children of every thread of @p pid to @p list; return the new count. */
static size_t children_add(pid_t pid, pid_t *list, size_t n)
{
    char path[64];
    DIR *d;
    struct dirent *e;

    snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
    d = opendir(path);
    if (d == NULL)
        return n;
    while ((e = readdir(d)) != NULL && n < MAX_TREE) {
        char cpath[320];
        FILE *f;
        int child;

        if (e->d_name[0] == '.')
            continue;
        snprintf(cpath, sizeof(cpath), "/proc/%d/task/%s/children", (int)pid, e->d_name);
        f = fopen(cpath, "r");
        if (f == NULL)
            continue;
        while (n < MAX_TREE && fscanf(f, "%d", &child) == 1)
            list[n++] = (pid_t)child;
        fclose(f);
    }
    closedir(d);
    return n;
}

/** Sum of the RSS of all our live descendants, in kB. */
static unsigned long tree_rss_kb(void)
{
    static pid_t list[MAX_TREE];
    size_t n, i;
    unsigned long sum = 0;

    n = children_add(getpid(), list, 0);
    for (i = 0; i < n; i++) {
        sum += rss_kb(list[i]);
        n = children_add(list[i], list, n);
    }
    return sum;
}

/** utime+stime+cutime+cstime of one live process from /proc/PID/stat, in seconds. */
static double proc_cpu_s(pid_t pid)
{
    char path[64], buf[1024];
    unsigned long long ut, st, cut, cst;
    const char *p;
    size_t n;
    FILE *f;

    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    f = fopen(path, "r");
    if (f == NULL)
        return 0;
    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    p = strrchr(buf, ')'); /* the command name may hold spaces and parentheses */
    if (p == NULL)
        return 0;
    /* after ")": state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime.. */
    if (sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %llu %llu", &ut,
               &st, &cut, &cst) != 4)
        return 0;
    return (double)(ut + st + cut + cst) / (double)sysconf(_SC_CLK_TCK);
}

/** CPU seconds used so far by the whole tree: live processes plus those already reaped. */
static double tree_cpu_s(void)
{
    static pid_t list[MAX_TREE];
    struct rusage ru;
    double sum = 0;
    size_t n, i;

    n = children_add(getpid(), list, 0);
    for (i = 0; i < n; i++) {
        sum += proc_cpu_s(list[i]);
        n = children_add(list[i], list, n);
    }
    if (getrusage(RUSAGE_CHILDREN, &ru) == 0)
        sum += tv_s(&ru.ru_utime) + tv_s(&ru.ru_stime);
    return sum;
}

/**
 * Look for @p needle in what was appended to @p path since the last call.
 * @return true once it was seen
 */
static bool mark_seen(const char *path, const char *needle)
{
    static char window[8192];
    static size_t have;
    static long offset;
    size_t keep, len = strlen(needle);
    FILE *f = fopen(path, "r");
    bool found = false;

    if (f == NULL)
        return false;
    if (fseek(f, offset, SEEK_SET) == 0) {
        for (;;) {
            size_t n = fread(window + have, 1, sizeof(window) - 1 - have, f);

            if (n == 0)
                break;
            offset += (long)n;
            have += n;
            window[have] = '\0';
            if (memmem(window, have, needle, len) != NULL) {
                found = true;
                break;
            }
            /* keep the last len-1 bytes: the needle may straddle two reads */
            keep = len > 1 && have >= len - 1 ? len - 1 : 0;
            memmove(window, window + have - keep, keep);
            have = keep;
        }
    }
    fclose(f);
    return found;
}

/** Send @p sig to the command's process group and to every direct child we adopted. */
static void kill_tree(pid_t pgid, int sig)
{
    static pid_t list[MAX_TREE];
    size_t n, i;

    kill(-pgid, sig);
    n = children_add(getpid(), list, 0);
    for (i = 0; i < n; i++)
        kill(list[i], sig);
}

static void usage(void)
{
    fprintf(stderr, "usage: bench_measure [-o FILE] [-t SECONDS] [-T SECONDS] [-s SIGNAL] "
                    "[-g GRACE] [-W FILE -m STRING] -- COMMAND [ARGS...]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    const char *out_path = NULL;
    const char *mark_file = NULL, *mark_str = NULL;
    double hard_s = 0, mark_cpu = -1, mark_wall = -1;
    double limit_s = 0, grace_s = 10, t0, t_exit = 0, t_last = 0, t_signal = 0, t_kill = 0;
    int sig = SIGINT, opt, status = 0, exit_code = -1, term_sig = 0;
    bool main_done = false, timed_out = false, killed = false, stdin_pipe = false;
    int in_pipe[2] = { -1, -1 };
    unsigned long tree_peak = 0;
    struct rusage ru;
    sigset_t mask;
    pid_t pid;
    FILE *out;

    while ((opt = getopt(argc, argv, "+o:t:T:s:g:W:m:P")) != -1) {
        switch (opt) {
        case 'o':
            out_path = optarg;
            break;
        case 't':
            limit_s = atof(optarg);
            break;
        case 'T':
            hard_s = atof(optarg);
            break;
        case 'P':
            stdin_pipe = true;
            break;
        case 'W':
            mark_file = optarg;
            break;
        case 'm':
            mark_str = optarg;
            break;
        case 's':
            sig = atoi(optarg);
            break;
        case 'g':
            grace_s = atof(optarg);
            break;
        default:
            usage();
        }
    }
    if (optind >= argc || (mark_file == NULL) != (mark_str == NULL) ||
        (mark_str != NULL && (strlen(mark_str) == 0 || strlen(mark_str) > 4096)))
        usage();

    if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0) {
        perror("bench_measure: PR_SET_CHILD_SUBREAPER");
        return 2;
    }
    /*
     * SIGCHLD stays blocked: we wait for it with sigtimedwait() between samples. SIGINT,
     * SIGTERM and SIGHUP are blocked too and forwarded to the tree, which runs in its own
     * process group and would otherwise outlive an interrupted benchmark.
     */
    sigemptyset(&mask);
    sigaddset(&mask, SIGCHLD);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGHUP);
    sigprocmask(SIG_BLOCK, &mask, NULL);

    if (stdin_pipe && pipe(in_pipe) != 0) {
        perror("bench_measure: pipe");
        return 2;
    }
    t0 = now_s();
    pid = fork();
    if (pid < 0) {
        perror("bench_measure: fork");
        return 2;
    }
    if (pid == 0) {
        /* A background job of a script starts with SIGINT/SIGQUIT ignored: undo that too. */
        signal(SIGINT, SIG_DFL);
        signal(SIGQUIT, SIG_DFL);
        sigprocmask(SIG_UNBLOCK, &mask, NULL);
        setpgid(0, 0);
        if (stdin_pipe) {
            dup2(in_pipe[0], STDIN_FILENO);
            close(in_pipe[0]);
            close(in_pipe[1]);
        }
        execvp(argv[optind], &argv[optind]);
        fprintf(stderr, "bench_measure: exec %s: %s\n", argv[optind], strerror(errno));
        _exit(127);
    }
    setpgid(pid, pid);
    if (stdin_pipe)
        close(in_pipe[0]);

    for (;;) {
        struct timespec ts = { 0, SAMPLE_NS };
        unsigned long rss;
        pid_t w;
        int got;
        double t;

        /* Reap everything that has exited: the command and any adopted orphan. */
        while ((w = waitpid(-1, &status, WNOHANG)) > 0) {
            t_last = now_s();
            if (w != pid)
                continue;
            main_done = true;
            t_exit = now_s();
            if (WIFEXITED(status))
                exit_code = WEXITSTATUS(status);
            else if (WIFSIGNALED(status))
                term_sig = WTERMSIG(status);
        }
        if (w < 0 && errno == ECHILD)
            break; /* the whole tree is gone */

        rss = tree_rss_kb();
        if (rss > tree_peak)
            tree_peak = rss;

        t = now_s();
        if (mark_str != NULL && mark_wall < 0 && mark_seen(mark_file, mark_str)) {
            mark_cpu = tree_cpu_s();
            mark_wall = t - t0;
        }
        if (!main_done && !timed_out &&
            ((limit_s > 0 && mark_str == NULL && t - t0 >= limit_s) ||
             (limit_s > 0 && mark_wall >= 0 && t - t0 - mark_wall >= limit_s) ||
             (hard_s > 0 && t - t0 >= hard_s))) {
            timed_out = true;
            t_signal = t;
            if (in_pipe[1] >= 0) {
                close(in_pipe[1]); /* end of input */
                in_pipe[1] = -1;
            }
            if (sig > 0)
                kill_tree(pid, sig);
        }
        /* Stragglers: the command ignored the signal, or exited leaving descendants. */
        if (!killed && ((timed_out && t - t_signal >= grace_s) ||
                        (main_done && t - t_exit >= grace_s))) {
            killed = true;
            t_kill = t;
            fprintf(stderr, "bench_measure: killing what is left of the tree (SIGKILL)\n");
            kill_tree(pid, SIGKILL);
        }
        if (killed && t - t_kill > 5) {
            fprintf(stderr, "bench_measure: descendants survive SIGKILL; giving up\n");
            break;
        }
        got = sigtimedwait(&mask, NULL, &ts);
        if ((got == SIGINT || got == SIGTERM || got == SIGHUP) && !timed_out) {
            timed_out = true; /* same path as -t: signal, grace, SIGKILL */
            t_signal = now_s();
            kill_tree(pid, got);
        }
    }
    if (t_last == 0)
        t_last = now_s();

    if (getrusage(RUSAGE_CHILDREN, &ru) != 0) {
        perror("bench_measure: getrusage");
        return 2;
    }
    out = out_path != NULL ? fopen(out_path, "a") : stderr;
    if (out == NULL) {
        perror(out_path);
        out = stderr;
    }
    fprintf(out,
            "BENCH_MEASURE exit=%d signal=%d timed_out=%d user_s=%.3f sys_s=%.3f cpu_s=%.3f "
            "wall_s=%.3f maxrss_kb=%ld tree_rss_kb=%lu mark_cpu_s=%.3f mark_wall_s=%.3f\n",
            exit_code, term_sig, timed_out ? 1 : 0, tv_s(&ru.ru_utime), tv_s(&ru.ru_stime),
            tv_s(&ru.ru_utime) + tv_s(&ru.ru_stime), t_last - t0, ru.ru_maxrss, tree_peak,
            mark_cpu, mark_wall);
    if (out != stderr)
        fclose(out);
    if (exit_code >= 0)
        return exit_code;
    return 128 + term_sig;
}
