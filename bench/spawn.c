/* spawn RESULT_FILE PROGRAM [ARGS...]
 *
 * Runs PROGRAM as a child, waits for it, and writes "<seconds> <max RSS in KiB>" to
 * RESULT_FILE; exits with the child's exit code (128 + signal if it was killed).
 *
 * Why not measure from Python directly: Linux carries a process's peak RSS across exec, and a
 * child forked (or vforked) by Python starts with Python's ~18 MB resident, so ru_maxrss of a
 * direct child of Python never reads below that. This program is tiny (and linked statically
 * where possible), so the child it forks starts near zero and ru_maxrss is the tool's own.
 * bench/run.py compiles it into bench/.cache/spawn.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: spawn RESULT_FILE PROGRAM [ARGS...]\n");
        return 2;
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    pid_t pid = fork();
    if (pid < 0) {
        perror("spawn: fork");
        return 2;
    }
    if (pid == 0) {
        execvp(argv[2], argv + 2);
        perror("spawn: exec");
        _exit(127);
    }
    int status = 0;
    struct rusage ru;
    if (wait4(pid, &status, 0, &ru) < 0) {
        perror("spawn: wait4");
        return 2;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double seconds = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    FILE *f = fopen(argv[1], "w");
    if (!f) {
        perror("spawn: result file");
        return 2;
    }
    fprintf(f, "%.6f %ld\n", seconds, ru.ru_maxrss);
    fclose(f);
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
    return 2;
}
