/* SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests of src/common/fp_log (targets, formats, levels, rate limiting, JOURNAL_STREAM
 * detection) and src/common/fp_priv (user lookup, spool hand-over, privilege drop in a
 * child process). Log output is captured by pointing stderr at a temporary file. */
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/fp_log.h"
#include "common/fp_priv.h"
#include "tests/unit/fp_test.h"

/* ---- stderr capture ---- */

static int saved_stderr = -1;
static int cap_fd = -1;
static char cap_path[] = "/tmp/fp_test_log.XXXXXX";

static void capture_begin(void)
{
    strcpy(cap_path, "/tmp/fp_test_log.XXXXXX");
    cap_fd = mkstemp(cap_path);
    CU_ASSERT_FATAL(cap_fd >= 0);
    fflush(stderr);
    saved_stderr = dup(STDERR_FILENO);
    CU_ASSERT_FATAL(saved_stderr >= 0);
    CU_ASSERT_FATAL(dup2(cap_fd, STDERR_FILENO) == STDERR_FILENO);
}

/* Restore stderr; return what was written (static buffer). */
static const char *capture_end(void)
{
    static char buf[8192];
    dup2(saved_stderr, STDERR_FILENO);
    close(saved_stderr);
    ssize_t n = pread(cap_fd, buf, sizeof(buf) - 1, 0);
    buf[n > 0 ? n : 0] = '\0';
    close(cap_fd);
    unlink(cap_path);
    return buf;
}

static unsigned count_lines(const char *s)
{
    unsigned n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

static void restore_defaults(void)
{
    unsetenv("JOURNAL_STREAM");
    fp_log_set_level(FP_LOG_INFO);
    fp_log_set_target(FP_LOG_TARGET_STDERR);
}

/* ---- tests ---- */

static void test_parse(void)
{
    enum fp_log_level l;
    enum fp_log_target t;
    static const struct {
        const char *name;
        enum fp_log_level level;
    } levels[] = {{"error", FP_LOG_ERR},   {"warning", FP_LOG_WARNING}, {"notice", FP_LOG_NOTICE},
                  {"info", FP_LOG_INFO},   {"debug", FP_LOG_DEBUG}};
    for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++) {
        CU_ASSERT_EQUAL(fp_log_level_parse(levels[i].name, &l), 0);
        CU_ASSERT_EQUAL(l, levels[i].level);
    }
    CU_ASSERT_EQUAL(fp_log_level_parse("warn", &l), -EINVAL);
    CU_ASSERT_EQUAL(fp_log_level_parse("", &l), -EINVAL);
    static const struct {
        const char *name;
        enum fp_log_target target;
    } targets[] = {{"auto", FP_LOG_TARGET_AUTO},
                   {"stderr", FP_LOG_TARGET_STDERR},
                   {"journal", FP_LOG_TARGET_JOURNAL},
                   {"syslog", FP_LOG_TARGET_SYSLOG}};
    for (size_t i = 0; i < sizeof(targets) / sizeof(targets[0]); i++) {
        CU_ASSERT_EQUAL(fp_log_target_parse(targets[i].name, &t), 0);
        CU_ASSERT_EQUAL(t, targets[i].target);
        CU_ASSERT_STRING_EQUAL(fp_log_target_name(t), targets[i].name);
    }
    CU_ASSERT_EQUAL(fp_log_target_parse("journald", &t), -EINVAL);
    CU_ASSERT_EQUAL(fp_log_target_parse("Stderr", &t), -EINVAL);
}

static void test_stderr_format(void)
{
    restore_defaults();
    capture_begin();
    fp_log(FP_LOG_WARNING, "export", "collector %d down", 3);
    fp_log(FP_LOG_ERR, "main", "two\nlines");
    const char *out = capture_end();
    CU_ASSERT_STRING_EQUAL(out, "flowpulse: warning: export: collector 3 down\n"
                                "flowpulse: error: main: two lines\n");
}

static void test_journal_format(void)
{
    restore_defaults();
    fp_log_set_target(FP_LOG_TARGET_JOURNAL);
    CU_ASSERT_EQUAL(fp_log_get_target(), FP_LOG_TARGET_JOURNAL);
    fp_log_set_level(FP_LOG_DEBUG);
    capture_begin();
    fp_log(FP_LOG_ERR, "main", "e");
    fp_log(FP_LOG_WARNING, "capture", "w %s", "x");
    fp_log(FP_LOG_NOTICE, "main", "n");
    fp_log(FP_LOG_INFO, "snmp", "i");
    fp_log(FP_LOG_DEBUG, "flow", "d\r\nmore");
    const char *out = capture_end();
    CU_ASSERT_STRING_EQUAL(out, "<3>main: e\n<4>capture: w x\n<5>main: n\n<6>snmp: i\n"
                                "<7>flow: d  more\n");
    restore_defaults();
}

static void test_levels(void)
{
    restore_defaults();
    fp_log_set_level(FP_LOG_WARNING);
    capture_begin();
    fp_log(FP_LOG_DEBUG, "t", "debug");
    fp_log(FP_LOG_INFO, "t", "info");
    fp_log(FP_LOG_NOTICE, "t", "notice");
    fp_log(FP_LOG_WARNING, "t", "warning");
    fp_log(FP_LOG_ERR, "t", "error");
    const char *out = capture_end();
    CU_ASSERT_STRING_EQUAL(out, "flowpulse: warning: t: warning\nflowpulse: error: t: error\n");
    fp_log_set_level(FP_LOG_ERR);
    capture_begin();
    fp_log(FP_LOG_WARNING, "t", "warning");
    out = capture_end();
    CU_ASSERT_STRING_EQUAL(out, "");
    restore_defaults();
}

/* A long message is cut, but the line still ends with a newline. */
static void test_long_line(void)
{
    restore_defaults();
    char big[3000];
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    capture_begin();
    fp_log(FP_LOG_ERR, "t", "%s", big);
    const char *out = capture_end();
    CU_ASSERT_EQUAL(count_lines(out), 1);
    size_t n = strlen(out);
    CU_ASSERT(n > 1000 && n < 1300);
    CU_ASSERT_EQUAL(out[n - 1], '\n');
}

static void set_journal_stream(int fd, long long dev_delta)
{
    struct stat st;
    char v[64];
    CU_ASSERT_FATAL(fstat(fd, &st) == 0);
    snprintf(v, sizeof(v), "%llu:%llu", (unsigned long long)st.st_dev + (unsigned long long)dev_delta,
             (unsigned long long)st.st_ino);
    setenv("JOURNAL_STREAM", v, 1);
}

static void test_auto_detect(void)
{
    restore_defaults();
    capture_begin();
    /* stderr is the capture file now: JOURNAL_STREAM naming it means "under systemd". */
    set_journal_stream(STDERR_FILENO, 0);
    CU_ASSERT_EQUAL(fp_log_fd_is_journal(STDERR_FILENO), 1);
    fp_log_set_target(FP_LOG_TARGET_AUTO);
    enum fp_log_target got_journal = fp_log_get_target();
    fp_log(FP_LOG_NOTICE, "main", "under systemd");
    /* Another file (stdout was not redirected): not the journal. */
    set_journal_stream(STDERR_FILENO, 1);
    int other = fp_log_fd_is_journal(STDERR_FILENO);
    fp_log_set_target(FP_LOG_TARGET_AUTO);
    enum fp_log_target got_plain = fp_log_get_target();
    fp_log(FP_LOG_NOTICE, "main", "foreground");
    const char *bad[] = {"", "12", "12:", ":34", "12:34x", "x:1", "1:2:3"};
    int malformed = 0;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        setenv("JOURNAL_STREAM", bad[i], 1);
        malformed += fp_log_fd_is_journal(STDERR_FILENO);
    }
    unsetenv("JOURNAL_STREAM");
    int unset = fp_log_fd_is_journal(STDERR_FILENO);
    const char *out = capture_end();
    CU_ASSERT_EQUAL(got_journal, FP_LOG_TARGET_JOURNAL);
    CU_ASSERT_EQUAL(other, 0);
    CU_ASSERT_EQUAL(got_plain, FP_LOG_TARGET_STDERR);
    CU_ASSERT_EQUAL(malformed, 0);
    CU_ASSERT_EQUAL(unset, 0);
    CU_ASSERT_STRING_EQUAL(out, "<5>main: under systemd\nflowpulse: notice: main: foreground\n");
    restore_defaults();
}

static void test_ratelimit(void)
{
    restore_defaults();
    struct fp_log_ratelimit rl = {0};
    capture_begin();
    for (int i = 0; i < 10; i++)
        fp_log_ratelimited(&rl, 3, FP_LOG_WARNING, "export", "send failed %d", i);
    unsigned first = count_lines(capture_end());
    CU_ASSERT_EQUAL(first, 3);
    CU_ASSERT_EQUAL(rl.suppressed, 7);

    /* Filtered by level: neither logged nor counted. */
    fp_log_set_level(FP_LOG_ERR);
    fp_log_ratelimited(&rl, 3, FP_LOG_WARNING, "export", "filtered");
    CU_ASSERT_EQUAL(rl.suppressed, 7);
    fp_log_set_level(FP_LOG_INFO);

    /* Next window: the count of suppressed lines comes first, then the line itself. */
    rl.window_start_ms -= FP_LOG_RATELIMIT_WINDOW_MS;
    capture_begin();
    fp_log_ratelimited(&rl, 3, FP_LOG_WARNING, "export", "send failed %d", 10);
    const char *out = capture_end();
    CU_ASSERT_STRING_EQUAL(out, "flowpulse: warning: export: 7 similar messages suppressed\n"
                                "flowpulse: warning: export: send failed 10\n");
    CU_ASSERT_EQUAL(rl.in_window, 1);
    CU_ASSERT_EQUAL(rl.suppressed, 0);
    restore_defaults();
}

/* ---- fp_priv ---- */

static void test_priv_resolve(void)
{
    struct fp_priv_ids ids;
    char err[256];
    struct passwd *nb = getpwnam("nobody");

    CU_ASSERT_EQUAL(fp_priv_resolve("root", "", &ids, err, sizeof(err)), 0);
    CU_ASSERT_EQUAL(ids.uid, 0);
    CU_ASSERT_EQUAL(ids.gid, 0);
    CU_ASSERT_STRING_EQUAL(ids.user, "root");
    CU_ASSERT_EQUAL(fp_priv_resolve("0", "", &ids, err, sizeof(err)), 0);
    CU_ASSERT_STRING_EQUAL(ids.user, "root");
    if (nb != NULL) {
        CU_ASSERT_EQUAL(fp_priv_resolve("nobody", "", &ids, err, sizeof(err)), 0);
        CU_ASSERT_EQUAL(ids.uid, nb->pw_uid);
        CU_ASSERT_EQUAL(ids.gid, nb->pw_gid);
        CU_ASSERT_EQUAL(fp_priv_resolve("nobody", "0", &ids, err, sizeof(err)), 0);
        CU_ASSERT_EQUAL(ids.gid, 0);
        CU_ASSERT_EQUAL(fp_priv_resolve("nobody", "root", &ids, err, sizeof(err)), 0);
        CU_ASSERT_EQUAL(ids.gid, 0);
        CU_ASSERT_STRING_EQUAL(ids.group, "root");
    }
    CU_ASSERT_EQUAL(fp_priv_resolve("fp-no-such-user", "", &ids, err, sizeof(err)), -ENOENT);
    CU_ASSERT_STRING_EQUAL(err, "daemon.user: no such user \"fp-no-such-user\"");
    CU_ASSERT_EQUAL(fp_priv_resolve("root", "fp-no-such-group", &ids, err, sizeof(err)), -ENOENT);
    CU_ASSERT_STRING_EQUAL(err, "daemon.group: no such group \"fp-no-such-group\"");
    CU_ASSERT_EQUAL(fp_priv_resolve("", "", &ids, err, sizeof(err)), -EINVAL);
    /* A uid without passwd entry needs an explicit group. */
    CU_ASSERT_EQUAL(fp_priv_resolve("3999999", "", &ids, err, sizeof(err)), -ENOENT);
    CU_ASSERT_EQUAL(fp_priv_resolve("3999999", "3999998", &ids, err, sizeof(err)), 0);
    CU_ASSERT_EQUAL(ids.uid, 3999999);
    CU_ASSERT_EQUAL(ids.gid, 3999998);
    CU_ASSERT_EQUAL(ids.has_pw, 0);
}

static void test_priv_handover(void)
{
    char dir[] = "/tmp/fp_test_priv.XXXXXX";
    char sub[64], file[96], link[96], err[256];
    struct stat st;
    struct fp_priv_ids ids = {.uid = 3999999, .gid = 3999998, .user = "x", .group = "y"};

    if (geteuid() != 0) {
        fprintf(stderr, "(handover: not root, skipped) ");
        return;
    }
    CU_ASSERT_FATAL(mkdtemp(dir) != NULL);
    snprintf(sub, sizeof(sub), "%s/lane", dir);
    snprintf(file, sizeof(file), "%s/lane/seg", dir);
    snprintf(link, sizeof(link), "%s/link", dir);
    CU_ASSERT_FATAL(mkdir(sub, 0700) == 0);
    int fd = open(file, O_CREAT | O_WRONLY, 0600);
    CU_ASSERT_FATAL(fd >= 0);
    close(fd);
    CU_ASSERT_FATAL(symlink("/etc/passwd", link) == 0);

    CU_ASSERT_EQUAL(fp_priv_handover(&ids, dir, err, sizeof(err)), 0);
    CU_ASSERT(stat(dir, &st) == 0 && st.st_uid == ids.uid && st.st_gid == ids.gid);
    CU_ASSERT(stat(sub, &st) == 0 && st.st_uid == ids.uid && st.st_gid == ids.gid);
    /* Only one level down: the lane's files stay, a symlink is never followed. */
    CU_ASSERT(stat(file, &st) == 0 && st.st_uid == 0);
    CU_ASSERT(stat("/etc/passwd", &st) == 0 && st.st_uid == 0);

    /* A shared directory is refused and left alone. */
    CU_ASSERT_FATAL(chmod(dir, 01777) == 0);
    CU_ASSERT_FATAL(chown(dir, 0, 0) == 0);
    CU_ASSERT_EQUAL(fp_priv_handover(&ids, dir, err, sizeof(err)), -EPERM);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "shared"));
    CU_ASSERT(stat(dir, &st) == 0 && st.st_uid == 0);
    int rc = fp_priv_handover(&ids, link, err, sizeof(err)); /* never through a symlink */
    CU_ASSERT(rc == -ELOOP || rc == -ENOTDIR);
    CU_ASSERT_EQUAL(fp_priv_handover(&ids, "/nonexistent/fp", err, sizeof(err)), -ENOENT);

    unlink(link);
    unlink(file);
    rmdir(sub);
    rmdir(dir);
}

/* The drop is irreversible: it runs in a child, which reports through its exit status. */
static void test_priv_drop(void)
{
    struct fp_priv_ids ids;
    char err[256];

    if (geteuid() != 0) {
        CU_ASSERT_EQUAL(fp_priv_resolve("root", "", &ids, err, sizeof(err)), 0);
        CU_ASSERT_EQUAL(fp_priv_drop(&ids, err, sizeof(err)), -EPERM);
        return;
    }
    CU_ASSERT_FATAL(fp_priv_resolve("3999999", "3999998", &ids, err, sizeof(err)) == 0);
    fflush(NULL);
    pid_t pid = fork();
    CU_ASSERT_FATAL(pid >= 0);
    if (pid == 0) {
        int rc = fp_priv_drop(&ids, err, sizeof(err));
        gid_t groups[4];
        int ng = getgroups(4, groups);
        int ok = rc == 0 && getuid() == 3999999 && geteuid() == 3999999 && getgid() == 3999998 &&
                 getegid() == 3999998 && ng == 1 && groups[0] == 3999998 && setuid(0) != 0 &&
                 open("/etc/shadow", O_RDONLY) < 0;
        _exit(ok ? 0 : 1);
    }
    int status;
    CU_ASSERT_FATAL(waitpid(pid, &status, 0) == pid);
    CU_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    /* Not root any more: a second drop (to root) is refused. */
    pid = fork();
    CU_ASSERT_FATAL(pid >= 0);
    if (pid == 0) {
        struct fp_priv_ids root = {.uid = 0, .gid = 0, .user = "root", .group = "root"};
        int rc1 = fp_priv_drop(&ids, err, sizeof(err));
        int rc2 = fp_priv_drop(&root, err, sizeof(err));
        _exit(rc1 == 0 && rc2 == -EPERM && getuid() == 3999999 ? 0 : 1);
    }
    CU_ASSERT_FATAL(waitpid(pid, &status, 0) == pid);
    CU_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

void fp_test_register_log(void);
void fp_test_register_log(void)
{
    static const CU_TestInfo tests[] = {
        {"parse", test_parse},
        {"stderr_format", test_stderr_format},
        {"journal_format", test_journal_format},
        {"levels", test_levels},
        {"long_line", test_long_line},
        {"auto_detect", test_auto_detect},
        {"ratelimit", test_ratelimit},
        {"priv_resolve", test_priv_resolve},
        {"priv_handover", test_priv_handover},
        {"priv_drop", test_priv_drop},
        CU_TEST_INFO_NULL,
    };
    FP_TEST_ADD_SUITE("log", tests);
}
