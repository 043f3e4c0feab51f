/*
 * gpd_unknown.c: the message for a mistyped sub-command of galpostd's
 * access point: the word, the nearest sub-command and the valid ones (see
 * gpd_unknown_message() in gpd_daemon.h).  Pure: the table is an argument.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "gp_xpa.h"
#include "gpd_daemon.h"

enum { FAR = 3, MAXL = 32 };

/* edit distance of a and b (insertions, deletions, substitutions and swaps
 * of two neighbours; case ignored), or FAR when it is FAR or more */
static int distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > MAXL || lb > MAXL || (la > lb ? la - lb : lb - la) >= FAR) return FAR;
    int d[MAXL + 1][MAXL + 1];
    for (size_t i = 0; i <= la; i++) d[i][0] = (int)i;
    for (size_t j = 0; j <= lb; j++) d[0][j] = (int)j;
    for (size_t i = 1; i <= la; i++)
        for (size_t j = 1; j <= lb; j++) {
            int ca = tolower((unsigned char)a[i - 1]), cb = tolower((unsigned char)b[j - 1]);
            int v = d[i - 1][j - 1] + (ca != cb);
            if (d[i - 1][j] + 1 < v) v = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < v) v = d[i][j - 1] + 1;
            if (i > 1 && j > 1 && ca == tolower((unsigned char)b[j - 2]) &&
                tolower((unsigned char)a[i - 2]) == cb && d[i - 2][j - 2] + 1 < v)
                v = d[i - 2][j - 2] + 1;
            d[i][j] = v;
        }
    return d[la][lb] < FAR ? d[la][lb] : FAR;
}

static int serves(const gpx_command *c, int set) { return set ? c->set != NULL : c->get != NULL; }

/* ", "-separated names of one direction's commands */
static void names(const gpx_command *cmds, size_t ncmds, int set, char *out, size_t n)
{
    size_t used = 0;
    out[0] = '\0';
    for (size_t i = 0; i < ncmds && used < n; i++) {
        if (!serves(&cmds[i], set)) continue;
        int w = snprintf(out + used, n - used, "%s%s", used ? ", " : "", cmds[i].name);
        if (w < 0) break;
        used += (size_t)w;
    }
}

void gpd_unknown_message(const gpx_command *cmds, size_t ncmds, const char *ap,
                         const char *word, int set, char *msg, size_t len)
{
    const char *dir = set ? "xpaset" : "xpaget", *other = set ? "xpaget" : "xpaset";
    char mine[512], theirs[512], head[512];
    names(cmds, ncmds, set, mine, sizeof mine);
    names(cmds, ncmds, !set, theirs, sizeof theirs);

    const gpx_command *known = NULL;
    for (size_t i = 0; i < ncmds; i++)
        if (!strcmp(cmds[i].name, word)) known = &cmds[i];
    if (known) {
        snprintf(head, sizeof head, "%s: '%s' is an %s command, not an %s one", ap, word, other, dir);
    } else {
        const gpx_command *best = NULL;
        int bestd = FAR, bestmine = 0;
        for (size_t i = 0; i < ncmds; i++) {
            int d = distance(word, cmds[i].name), mine_i = serves(&cmds[i], set);
            if (d >= FAR || (size_t)d >= strlen(word)) continue;
            if (d < bestd || (d == bestd && mine_i && !bestmine)) {
                best = &cmds[i];
                bestd = d;
                bestmine = mine_i;
            }
        }
        if (!best)
            snprintf(head, sizeof head, "%s: unknown command '%s'", ap, word);
        else if (bestmine)
            snprintf(head, sizeof head, "%s: unknown command '%s', did you mean '%s'?", ap, word,
                     best->name);
        else
            snprintf(head, sizeof head, "%s: unknown command '%s', did you mean '%s %s %s'?", ap,
                     word, other, ap, best->name);
    }
    snprintf(msg, len, "%s (%s commands: %s; %s: %s); see galpostd(1)", head, dir, mine, other,
             theirs);
}
