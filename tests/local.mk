# tests/: cmocka programs and scripts run by `make check` (exit 77 = skip).
TEST_CPPFLAGS = $(AM_CPPFLAGS) $(CMOCKA_CFLAGS) $(CFITSIO_CFLAGS) $(WCSLIB_CFLAGS) $(OPENBLAS_CFLAGS)
TEST_LDADD = libgalpost.la $(CMOCKA_LIBS) $(CFITSIO_LIBS) $(WCSLIB_LIBS) $(OPENBLAS_LIBS) -lm
AM_TESTS_ENVIRONMENT = \
	GP_TOP_SRCDIR='$(abs_top_srcdir)'; export GP_TOP_SRCDIR; \
	GP_TOP_BUILDDIR='$(abs_top_builddir)'; export GP_TOP_BUILDDIR; \
	GP_PKGDATADIR='$(pkgdatadir)'; export GP_PKGDATADIR; \
	GP_SHARED_DATA="$${GP_SHARED_DATA:-$(abs_top_srcdir)/../shared/data}"; export GP_SHARED_DATA; \
	$(GP_CUDA_TESTS_ENVIRONMENT)

check_PROGRAMS += tests/test_error
tests_test_error_SOURCES = tests/test_error.c
tests_test_error_CPPFLAGS = $(TEST_CPPFLAGS)
tests_test_error_LDADD = $(TEST_LDADD)

check_PROGRAMS += tests/test_weights
tests_test_weights_SOURCES = tests/test_weights.c
tests_test_weights_CPPFLAGS = $(TEST_CPPFLAGS) $(ZLIB_CFLAGS)
tests_test_weights_LDADD = $(TEST_LDADD) $(ZLIB_LIBS)

# `galpost model info` on a file written by `test_weights --write-example`
TESTS += tests/test_model_info.sh
dist_check_SCRIPTS += tests/test_model_info.sh

# mock -> train -> eval through the command line; eval's figures recomputed from its tables
TESTS += tests/test_train_eval_cli.sh
dist_check_SCRIPTS += tests/test_train_eval_cli.sh


noinst_HEADERS += tests/gp_test_util.h
check_PROGRAMS += tests/test_layers
tests_test_layers_SOURCES = tests/test_layers.c
tests_test_layers_CPPFLAGS = $(TEST_CPPFLAGS)
tests_test_layers_LDADD = $(TEST_LDADD)

check_PROGRAMS += tests/test_flows
tests_test_flows_SOURCES = tests/test_flows.c
tests_test_flows_CPPFLAGS = $(TEST_CPPFLAGS)
tests_test_flows_LDADD = $(TEST_LDADD)

check_PROGRAMS += tests/test_infer
tests_test_infer_SOURCES = tests/test_infer.c
tests_test_infer_CPPFLAGS = $(TEST_CPPFLAGS)
tests_test_infer_LDADD = $(TEST_LDADD)

check_PROGRAMS += tests/test_ood
tests_test_ood_SOURCES = tests/test_ood.c
tests_test_ood_CPPFLAGS = $(TEST_CPPFLAGS)
tests_test_ood_LDADD = $(TEST_LDADD)

# the trainer's latent cache and its fingerprint
check_PROGRAMS += tests/test_latent_cache
tests_test_latent_cache_SOURCES = tests/test_latent_cache.c
tests_test_latent_cache_CPPFLAGS = $(TEST_CPPFLAGS)
tests_test_latent_cache_LDADD = $(TEST_LDADD)

# gp_infer's GPU path (slots, prefetch, device pixel check) on a wrapped CPU backend

check_PROGRAMS += tests/test_infer_pipeline
tests_test_infer_pipeline_SOURCES = tests/test_infer_pipeline.c
tests_test_infer_pipeline_CPPFLAGS = $(TEST_CPPFLAGS)
tests_test_infer_pipeline_LDADD = $(TEST_LDADD)

# the shipped photometry model's redshifts on real SDSS galaxies (skips without ../shared)
check_PROGRAMS += tests/test_real_sdss
tests_test_real_sdss_SOURCES = tests/test_real_sdss.c
tests_test_real_sdss_CPPFLAGS = $(TEST_CPPFLAGS)
tests_test_real_sdss_LDADD = $(TEST_LDADD)

check_PROGRAMS += tests/test_fits_io
tests_test_fits_io_SOURCES = tests/test_fits_io.c
tests_test_fits_io_CPPFLAGS = $(TEST_CPPFLAGS)
tests_test_fits_io_LDADD = $(TEST_LDADD)

check_PROGRAMS += tests/test_model_load
tests_test_model_load_SOURCES = tests/test_model_load.c
tests_test_model_load_CPPFLAGS = $(TEST_CPPFLAGS)
tests_test_model_load_LDADD = $(TEST_LDADD)

# `galpost infer` end to end on mock shards
TESTS += tests/test_infer_cli.sh
dist_check_SCRIPTS += tests/test_infer_cli.sh
# an interrupted or killed batch resumes to the uninterrupted run's file
TESTS += tests/test_infer_resume.sh
dist_check_SCRIPTS += tests/test_infer_resume.sh

# -- fast CPU engine (issue 7): fused operations against references --
check_PROGRAMS += tests/test_cpu_fast
tests_test_cpu_fast_SOURCES = tests/test_cpu_fast.c
tests_test_cpu_fast_CPPFLAGS = $(TEST_CPPFLAGS)
tests_test_cpu_fast_LDADD = $(TEST_LDADD)

# the AMX split-bf16 convolution against double references, with and without AMX
check_PROGRAMS += tests/test_cpu_amx
tests_test_cpu_amx_SOURCES = tests/test_cpu_amx.c
tests_test_cpu_amx_CPPFLAGS = $(TEST_CPPFLAGS)
tests_test_cpu_amx_LDADD = $(TEST_LDADD)

# every test program above is a test
TESTS += $(check_PROGRAMS)

# -- training (issue 4) --
check_PROGRAMS += tests/test_backward
tests_test_backward_SOURCES = tests/test_backward.c
tests_test_backward_CPPFLAGS = $(TEST_CPPFLAGS)
tests_test_backward_LDADD = $(TEST_LDADD)
check_PROGRAMS += tests/test_train
tests_test_train_SOURCES = tests/test_train.c
tests_test_train_CPPFLAGS = $(TEST_CPPFLAGS)
tests_test_train_LDADD = $(TEST_LDADD) $(PTHREAD_LIBS)
# -- end training tests --

# -- image tests: frames, cutouts, photometry, catalogues (issue 5) --
check_PROGRAMS += tests/test_cutout tests/test_photometry tests/test_catalog
IMAGE_FIXTURE = tests/image_fixture.h tests/image_fixture.c
SDSS_FRAMES = tests/sdss_frames.h tests/sdss_frames.c
tests_test_cutout_SOURCES = tests/test_cutout.c $(IMAGE_FIXTURE)
tests_test_cutout_CPPFLAGS = $(TEST_CPPFLAGS)
tests_test_cutout_LDADD = $(TEST_LDADD)
tests_test_photometry_SOURCES = tests/test_photometry.c $(IMAGE_FIXTURE)
tests_test_photometry_CPPFLAGS = $(TEST_CPPFLAGS)
tests_test_photometry_LDADD = $(TEST_LDADD)
tests_test_catalog_SOURCES = tests/test_catalog.c $(IMAGE_FIXTURE)
tests_test_catalog_CPPFLAGS = $(TEST_CPPFLAGS)
tests_test_catalog_LDADD = $(TEST_LDADD)
# masked pixels beside and on galaxies' cores in real SDSS frames (skips without ../shared)
check_PROGRAMS += tests/test_masked_sdss
tests_test_masked_sdss_SOURCES = tests/test_masked_sdss.c $(IMAGE_FIXTURE) $(SDSS_FRAMES)
tests_test_masked_sdss_CPPFLAGS = $(TEST_CPPFLAGS)
tests_test_masked_sdss_LDADD = $(TEST_LDADD)
# apertures and cutouts crossing the frame edge on cropped real SDSS frames (skips without ../shared)
check_PROGRAMS += tests/test_edge_sdss
tests_test_edge_sdss_SOURCES = tests/test_edge_sdss.c $(IMAGE_FIXTURE) $(SDSS_FRAMES)
tests_test_edge_sdss_CPPFLAGS = $(TEST_CPPFLAGS)
tests_test_edge_sdss_LDADD = $(TEST_LDADD)
# frames in counts with an AB zero point, made from real SDSS frames (skips without ../shared)
check_PROGRAMS += tests/test_counts_sdss
tests_test_counts_sdss_SOURCES = tests/test_counts_sdss.c $(IMAGE_FIXTURE) $(SDSS_FRAMES)
tests_test_counts_sdss_CPPFLAGS = $(TEST_CPPFLAGS)
tests_test_counts_sdss_LDADD = $(TEST_LDADD)
# frames in nJy, in counts per second, with a zero point given by hand (real SDSS frames)
check_PROGRAMS += tests/test_units_sdss
tests_test_units_sdss_SOURCES = tests/test_units_sdss.c $(IMAGE_FIXTURE) $(SDSS_FRAMES)
tests_test_units_sdss_CPPFLAGS = $(TEST_CPPFLAGS)
tests_test_units_sdss_LDADD = $(TEST_LDADD)
# galpost shards (engine/cli/cli_shards.c) on the frames of a mock field
check_PROGRAMS += tests/test_shards
tests_test_shards_SOURCES = tests/test_shards.c $(IMAGE_FIXTURE)
tests_test_shards_CPPFLAGS = $(TEST_CPPFLAGS)
tests_test_shards_LDADD = $(TEST_LDADD)

# order statistics without a sort (engine/gp_select.c) against qsort
check_PROGRAMS += tests/test_select
tests_test_select_SOURCES = tests/test_select.c
tests_test_select_CPPFLAGS = $(TEST_CPPFLAGS)
tests_test_select_LDADD = $(TEST_LDADD)

# the source check (GP_FLAG_NO_SOURCE): synthetic cutouts, gp_infer, real frames
check_PROGRAMS += tests/test_source_check
tests_test_source_check_SOURCES = tests/test_source_check.c
tests_test_source_check_CPPFLAGS = $(TEST_CPPFLAGS)
tests_test_source_check_LDADD = $(TEST_LDADD)
TESTS += tests/test_source_check_cli.sh
dist_check_SCRIPTS += tests/test_source_check_cli.sh

# training tables as CSV (CasJobs downloads): the dataset against the same rows in FITS,
# and galpost train --photometry / eval on CSV against FITS
check_PROGRAMS += tests/test_dataset_csv
tests_test_dataset_csv_SOURCES = tests/test_dataset_csv.c
tests_test_dataset_csv_CPPFLAGS = $(TEST_CPPFLAGS)
tests_test_dataset_csv_LDADD = $(TEST_LDADD)
noinst_PROGRAMS += tests/gp_test_table_csv
tests_gp_test_table_csv_SOURCES = tests/gp_test_table_csv.c
tests_gp_test_table_csv_CPPFLAGS = $(TEST_CPPFLAGS)
tests_gp_test_table_csv_LDADD = $(CFITSIO_LIBS) -lm
TESTS += tests/test_train_csv.sh
dist_check_SCRIPTS += tests/test_train_csv.sh

# galpost infer --frames --positions: a list of real galaxies on real SDSS
# frames in batch, each row against its one-galaxy run (skips without ../shared)
noinst_PROGRAMS += tests/gp_test_results_dump
tests_gp_test_results_dump_SOURCES = tests/gp_test_results_dump.c
tests_gp_test_results_dump_CPPFLAGS = $(TEST_CPPFLAGS)
tests_gp_test_results_dump_LDADD = $(CFITSIO_LIBS) -lm
noinst_PROGRAMS += tests/gp_test_csv_table
tests_gp_test_csv_table_SOURCES = tests/gp_test_csv_table.c
tests_gp_test_csv_table_CPPFLAGS = $(TEST_CPPFLAGS)
tests_gp_test_csv_table_LDADD = $(CFITSIO_LIBS) -lm
TESTS += tests/test_infer_positions.sh
dist_check_SCRIPTS += tests/test_infer_positions.sh
# the same on DS9 region files the real DS9 saves (Xvfb; skips without DS9 or ../shared)
TESTS += tests/test_infer_positions_ds9.sh
dist_check_SCRIPTS += tests/test_infer_positions_ds9.sh

# the --positions lists (CSV, DS9 region files, FITS tables) read from files it writes
check_PROGRAMS += tests/test_positions
tests_test_positions_SOURCES = tests/test_positions.c $(IMAGE_FIXTURE) \
	engine/cli/cli_positions.c engine/cli/cli_positions_ds9.c engine/cli/cli_positions_fits.c
tests_test_positions_CPPFLAGS = $(TEST_CPPFLAGS)
tests_test_positions_LDADD = $(TEST_LDADD)
