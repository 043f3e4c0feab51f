# plugin/: galpostd, the daemon behind DS9's 'Galaxy posteriors' menu and
# the XPA access point 'galpost'.  Only plugin/gp_xpa.c includes xpa.h.
bin_PROGRAMS += galpostd
GPD_CORE = \
	plugin/gpd.h plugin/gpd_daemon.h plugin/gp_xpa.h \
	plugin/gpd_log.c plugin/gpd_config.c plugin/gpd_parse.c plugin/gpd_format.c plugin/gpd_unknown.c
galpostd_SOURCES = $(GPD_CORE) \
	plugin/galpostd.c plugin/gpd_commands.c plugin/gpd_worker.c plugin/gpd_inputs.c plugin/gpd_ds9.c plugin/gpd_visit.c \
	plugin/gpd_header.c plugin/gpd_verified.c plugin/gp_xpa.c
galpostd_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/plugin $(XPA_CFLAGS)
galpostd_LDADD = libgalpost.la $(XPA_LIBS) $(PTHREAD_LIBS) -lm
# messages are cut to their buffers on purpose
galpostd_CFLAGS = $(AM_CFLAGS) -Wno-format-truncation

# tests of galpostd and the DS9 plugin (real programs: Xvfb, DS9, xpaset)
noinst_PROGRAMS += tests/gp_test_frames
tests_gp_test_frames_SOURCES = tests/gp_test_frames.c tests/image_fixture.c tests/image_fixture.h
tests_gp_test_frames_CPPFLAGS = $(TEST_CPPFLAGS)
tests_gp_test_frames_LDADD = libgalpost.la $(CFITSIO_LIBS) -lm
dist_check_SCRIPTS += tests/test_galpostd.sh tests/test_ds9_plugin.sh tests/test_ds9_sdss.sh tests/test_ds9_frames.sh \
	tests/test_ds9_display.sh tests/test_ds9_changes.sh
TESTS += tests/test_galpostd.sh tests/test_ds9_plugin.sh tests/test_ds9_sdss.sh tests/test_ds9_frames.sh \
	tests/test_ds9_display.sh tests/test_ds9_changes.sh
EXTRA_DIST += tests/ds9_lib.sh
check_PROGRAMS += tests/test_gpd
tests_test_gpd_SOURCES = tests/test_gpd.c tests/image_fixture.c tests/image_fixture.h \
	plugin/gpd.h plugin/gpd_log.c plugin/gpd_config.c plugin/gpd_parse.c plugin/gpd_format.c plugin/gpd_header.c \
	plugin/gpd_verified.c plugin/gpd_unknown.c
tests_test_gpd_CPPFLAGS = $(TEST_CPPFLAGS) -I$(top_srcdir)/plugin
tests_test_gpd_CFLAGS = $(AM_CFLAGS) -Wno-format-truncation
tests_test_gpd_LDADD = $(TEST_LDADD) $(PTHREAD_LIBS)

# galpost-demo: the README's headless demonstration (installed)
bin_SCRIPTS = galpost-demo
galpost-demo: $(srcdir)/plugin/galpost-demo.in Makefile
	$(AM_V_GEN)sed -e 's|@pkgdatadir[@]|$(pkgdatadir)|g' -e 's|@abs_top_srcdir[@]|$(abs_top_srcdir)|g' \
	  $(srcdir)/plugin/galpost-demo.in >$@.tmp && chmod +x $@.tmp && mv $@.tmp $@
CLEANFILES += galpost-demo
EXTRA_DIST += plugin/galpost-demo.in
# screenshots written by the DS9 tests (kept after make check, for CI)
DISTCLEANFILES += tests/artefacts/*.png
