# analysis/: DS9's 'Galaxy posteriors' menu and the script it runs, both
# installed into $(pkgdatadir) (DS9 puts the analysis file's directory first
# on PATH).  The .ans file must not be executable: DS9 refuses it.
dist_pkgdata_DATA += analysis/galpost.ans
dist_pkgdata_SCRIPTS = analysis/galpost-ds9
