/* gp_derived.c: the derived line diagnostics' names and units (gp_derived.h). */
#include <stddef.h>

#include "gp_derived.h"

static const struct {
    const char *name, *unit;
    size_t      offset;
} derived[GP_NDERIVED] = {
    { "sfr_halpha", "log10 Msun/yr", offsetof(gp_summary, sfr_halpha) },
    { "balmer_decrement", "", offsetof(gp_summary, balmer_decrement) },
    { "a_v", "mag", offsetof(gp_summary, a_v) },
    { "oh_n2", "12+log10(O/H)", offsetof(gp_summary, oh_n2) },
    { "oh_o3n2", "12+log10(O/H)", offsetof(gp_summary, oh_o3n2) },
    { "log_n2ha", "dex", offsetof(gp_summary, log_n2) },
    { "log_o3hb", "dex", offsetof(gp_summary, log_o3) },
};

const char *gp_derived_name(int k) { return k >= 0 && k < GP_NDERIVED ? derived[k].name : "?"; }
const char *gp_derived_unit(int k) { return k >= 0 && k < GP_NDERIVED ? derived[k].unit : "?"; }

const gp_stat *gp_derived_stat(const gp_summary *s, int k)
{
    if (!s || k < 0 || k >= GP_NDERIVED) return NULL;
    return (const gp_stat *)((const char *)s + derived[k].offset);
}
