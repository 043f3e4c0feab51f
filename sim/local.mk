# sim/: libgpsim, the mock SDSS sky (physics in ../shared/docs/physics.md),
# linked by the galpost program (galpost mock), the tests and the benchmark.
noinst_LTLIBRARIES += libgpsim.la
libgpsim_la_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/sim $(CFITSIO_CFLAGS) $(WCSLIB_CFLAGS) $(CAIRO_CFLAGS)
libgpsim_la_CFLAGS = $(AM_CFLAGS) -O3
libgpsim_la_LIBADD = libgalpost.la $(CFITSIO_LIBS) $(WCSLIB_LIBS) $(PTHREAD_LIBS) -lm
libgpsim_la_SOURCES = \
	sim/gp_mock.h \
	sim/gp_mock_rng.h sim/gp_mock_rng.c \
	sim/gp_mock_profile.h sim/gp_mock_profile.c \
	sim/gp_mock_obs.c \
	sim/gp_mock_kcorr.c \
	sim/gp_mock_population.c \
	sim/gp_mock_lines.c \
	sim/gp_mock_render.h sim/gp_mock_render.c \
	sim/gp_mock_table.h sim/gp_mock_table.c \
	sim/gp_mock_shards.h sim/gp_mock_shards.c \
	sim/gp_mock_field.h sim/gp_mock_field.c \
	sim/gp_mock_bimodal.h sim/gp_mock_bimodal.c \
	sim/gp_mock_report.h sim/gp_mock_report.c

galpost_SOURCES += sim/cli_mock.c
galpost_CPPFLAGS += -I$(top_srcdir)/sim
galpost_LDADD += libgpsim.la

# tests (tests/local.mk adds every check program to TESTS)
MOCK_TEST_CPPFLAGS = $(TEST_CPPFLAGS) -I$(top_srcdir)/sim $(CAIRO_CFLAGS)
MOCK_TEST_LDADD = libgpsim.la $(TEST_LDADD) $(CAIRO_LIBS) $(PTHREAD_LIBS)
check_PROGRAMS += tests/test_mock_cosmo tests/test_mock_population tests/test_mock_render \
	tests/test_mock_output
tests_test_mock_cosmo_SOURCES = tests/test_mock_cosmo.c
tests_test_mock_cosmo_CPPFLAGS = $(MOCK_TEST_CPPFLAGS)
tests_test_mock_cosmo_LDADD = $(MOCK_TEST_LDADD)
tests_test_mock_population_SOURCES = tests/test_mock_population.c
tests_test_mock_population_CPPFLAGS = $(MOCK_TEST_CPPFLAGS)
tests_test_mock_population_LDADD = $(MOCK_TEST_LDADD)
tests_test_mock_render_SOURCES = tests/test_mock_render.c
tests_test_mock_render_CPPFLAGS = $(MOCK_TEST_CPPFLAGS)
tests_test_mock_render_LDADD = $(MOCK_TEST_LDADD)
tests_test_mock_output_SOURCES = tests/test_mock_output.c
tests_test_mock_output_CPPFLAGS = $(MOCK_TEST_CPPFLAGS)
tests_test_mock_output_LDADD = $(MOCK_TEST_LDADD)
TESTS += tests/test_mock_cli.sh
dist_check_SCRIPTS += tests/test_mock_cli.sh

dist_man_MANS += man/galpost-mock.1
EXTRA_DIST += sim/FORMAT.md sim/CALIBRATION.md
