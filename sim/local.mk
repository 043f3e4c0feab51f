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
	sim/gp_mock_report.h sim/gp_mock_report.c

galpost_SOURCES += sim/cli_mock.c
galpost_CPPFLAGS += -I$(top_srcdir)/sim
galpost_LDADD += libgpsim.la
