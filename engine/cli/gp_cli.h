/*
 * gp_cli.h: sub-commands of the `galpost` program.  Each takes the
 * arguments after its name (argv[0] is its whole name, "galpost eval" or
 * "galpost model random", which getopt's messages start with) and returns
 * the process exit status (0 success, 1 failure, 2 usage error).
 */
#ifndef GALPOST_GP_CLI_H
#define GALPOST_GP_CLI_H

#include <signal.h>

int gp_cli_model(int argc, char **argv);   /* engine/cli/cli_model.c */
int gp_cli_infer(int argc, char **argv);   /* engine/cli/cli_infer.c */
int gp_cli_model_random(int argc, char **argv); /* engine/cli/cli_model_random.c */
int gp_cli_mock(int argc, char **argv);    /* sim/cli_mock.c */
int gp_cli_train(int argc, char **argv);   /* engine/cli/cli_train.c */
int gp_cli_eval(int argc, char **argv);    /* engine/cli/cli_eval.c */
int gp_cli_shards(int argc, char **argv);  /* engine/cli/cli_shards.c */

/* Shared helpers for the sub-commands (engine/cli/cli_util.c). */
int gp_cli_parse_int(const char *s, long lo, long hi, long *out);
int gp_cli_parse_double(const char *s, double lo, double hi, double *out);
int gp_cli_is_terminal(void);  /* stderr is a terminal: show progress */
/* gp_cli_stdin_copy(): standard input copied to the end into a new file in
 * $TMPDIR (else /tmp), whose name goes into path (size n); the caller
 * unlinks it.  Prints why not (naming cmd) and returns 1, else 0: a closed
 * standard input, or gp_cli_interrupted set (a caller that catches
 * interrupts around the copy's life has Ctrl-C stop it; the copy is then
 * gone).  gp_cli_stdin_hold(), first thing in main(): a closed standard
 * input is held open on /dev/null, so that no file opened later becomes
 * descriptor 0 (read as standard input), and remembered as closed. */
int gp_cli_stdin_copy(const char *cmd, char *path, size_t n);
void gp_cli_stdin_hold(void);

/* Output files.  gp_cli_same_file(): 1 when a and b both exist and are the
 * same file (same st_dev and st_ino, whatever the names), or when neither
 * exists yet and they name the same entry of the same directory (two
 * outputs).
 * gp_cli_output_clash(): prints "galpost CMD: ... refusing to overwrite an
 * input" naming both options and the file and returns 2 when output `out`
 * (option outopt) is input `in` (option inopt), else 0.
 * gp_cli_output_writable(): checks before the work that `path` (option
 * opt) can be written: its directory exists, is a directory and is
 * writable, the path is not a directory, and with in_place (the file is
 * opened for writing rather than renamed into place) an existing file is
 * writable; prints why not (strerror) and returns 1, else 0. */
int gp_cli_same_file(const char *a, const char *b);
int gp_cli_output_clash(const char *cmd, const char *outopt, const char *out, const char *inopt, const char *in);
int gp_cli_output_writable(const char *cmd, const char *opt, const char *path, int in_place);

/* Interrupts of a long-running sub-command: gp_cli_interrupts_catch() clears
 * gp_cli_interrupted and makes SIGINT and SIGTERM set it to the signal's
 * number (the sub-command stops cleanly at its next check) instead of
 * killing the process (a signal ignored when the process started stays
 * ignored: a script's background job, trap '' INT); the previous
 * handlers go to `saved` (may be NULL)
 * for gp_cli_interrupts_restore().  gp_cli_exit_by_signal() ends a
 * process whose sub-command caught such a signal by that signal, after
 * the sub-command has stopped cleanly (or finished), so that the shell
 * sees it: bash stops a loop of
 * galpost runs on Ctrl-C only when the child died of SIGINT (an exit
 * status of 1 reads as "handled, go on with the next one"). */
typedef struct gp_cli_signals { struct sigaction sigint, sigterm; } gp_cli_signals;
extern volatile sig_atomic_t gp_cli_interrupted;
void gp_cli_interrupts_catch(gp_cli_signals *saved);
void gp_cli_interrupts_restore(const gp_cli_signals *saved);
void gp_cli_exit_by_signal(void);

#endif
