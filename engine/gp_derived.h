/*
 * gp_derived.h: the derived line diagnostics of a summary (gp_summary's
 * gp_stat members) by number, with the one name and unit that galpost
 * infer --json, the FITS result tables and galpostd's summary json all
 * use (internal).
 */
#ifndef GALPOST_GP_DERIVED_H
#define GALPOST_GP_DERIVED_H

#include "galpost/gp_model.h"

#define GP_NDERIVED 7

/* "sfr_halpha", "balmer_decrement", "a_v", "oh_n2", "oh_o3n2", "log_n2ha",
 * "log_o3hb" for k = 0..GP_NDERIVED-1; "?" otherwise. */
const char *gp_derived_name(int k);

/* Its unit as the FITS tables' TUNIT states it ("log10 Msun/yr", "" for the
 * Balmer decrement, "mag", "12+log10(O/H)", "dex"); "?" otherwise. */
const char *gp_derived_unit(int k);

/* Its statistics in s; NULL for k out of range. */
const gp_stat *gp_derived_stat(const gp_summary *s, int k);

#endif
