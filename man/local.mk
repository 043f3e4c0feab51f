# rules for man/
dist_man_MANS += man/galpost.1
# -- galpostd (issue 5) --
# galpostd(1) names installed files: made from its .in with this build's
# $(pkgdatadir), so that it says where --prefix put them
man_MANS += man/galpostd.1
EXTRA_DIST += man/galpostd.1.in
CLEANFILES += man/galpostd.1
man/galpostd.1: $(srcdir)/man/galpostd.1.in Makefile
	$(AM_V_GEN)$(MKDIR_P) man && sed -e 's|@pkgdatadir[@]|$(pkgdatadir)|g' $(srcdir)/man/galpostd.1.in >$@.tmp && mv $@.tmp $@

# the installed pages name the files where --prefix put them
TESTS += tests/test_man_prefix.sh
dist_check_SCRIPTS += tests/test_man_prefix.sh

# every man page in man/ must be `mandoc -T lint` clean
TESTS += tests/test_man_lint.sh
dist_check_SCRIPTS += tests/test_man_lint.sh

# the pages' quoted messages and example positions against the programs
TESTS += tests/test_man_examples.sh
dist_check_SCRIPTS += tests/test_man_examples.sh

# galpostd(1)'s EXAMPLES script, run as pasted (DS9 under Xvfb, the daemon)
TESTS += tests/test_man_galpostd_example.sh
dist_check_SCRIPTS += tests/test_man_galpostd_example.sh
