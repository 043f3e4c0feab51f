# bench/: benchmark programs (not run by make check); figures in bench/RESULTS.md.
noinst_PROGRAMS += bench/gp_bench bench/gp_dump bench/gp_summary_bench
bench_gp_bench_SOURCES = bench/gp_bench.c
bench_gp_bench_CPPFLAGS = $(AM_CPPFLAGS) $(OPENBLAS_CFLAGS)
bench_gp_bench_LDADD = libgalpost.la $(OPENBLAS_LIBS) -lm
bench_gp_dump_SOURCES = bench/gp_dump.c
bench_gp_dump_CPPFLAGS = $(AM_CPPFLAGS) $(OPENBLAS_CFLAGS)
bench_gp_dump_LDADD = libgalpost.la $(OPENBLAS_LIBS) -lm
bench_gp_summary_bench_SOURCES = bench/gp_summary_bench.c
bench_gp_summary_bench_LDADD = libgalpost.la -lm
EXTRA_DIST += bench/README.md bench/compare.sh bench/gp_weights.py \
	bench/torch_model.py bench/parity.py
EXTRA_DIST += bench/RESULTS.md

noinst_PROGRAMS += bench/bench_mock
bench_bench_mock_SOURCES = bench/bench_mock.c
bench_bench_mock_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/sim
bench_bench_mock_LDADD = libgpsim.la libgalpost.la $(PTHREAD_LIBS) -lm

# -- DS9 click latency (issue 5): bench/bench_click.sh runs it --
noinst_PROGRAMS += bench/bench_click
bench_bench_click_SOURCES = bench/bench_click.c
bench_bench_click_CPPFLAGS = $(AM_CPPFLAGS) $(XPA_CFLAGS)
bench_bench_click_LDADD = $(XPA_LIBS)
EXTRA_DIST += bench/bench_click.sh bench/bench_ds9_lib.sh
# -- reading DS9 with real frames loaded from files (the file check) --
EXTRA_DIST += bench/bench_files.sh
