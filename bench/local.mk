# bench/: benchmarks (never run by make check); figures in bench/RESULTS.md.
noinst_PROGRAMS += bench/bench_mock
bench_bench_mock_SOURCES = bench/bench_mock.c
bench_bench_mock_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/sim
bench_bench_mock_LDADD = libgpsim.la libgalpost.la $(PTHREAD_LIBS) -lm
