# engine/: libgalpost, the inference library, and the galpost program.
lib_LTLIBRARIES += libgalpost.la
libgalpost_la_CPPFLAGS = $(AM_CPPFLAGS) $(CFITSIO_CFLAGS) $(WCSLIB_CFLAGS) \
	$(OPENBLAS_CFLAGS) $(ZLIB_CFLAGS)
libgalpost_la_LIBADD = $(CFITSIO_LIBS) $(WCSLIB_LIBS) $(OPENBLAS_LIBS) \
	$(ZLIB_LIBS) $(PTHREAD_LIBS) -lm
# 1:0:0 since gp_result gained latent_d2 and latent_d2_limit (2026-11-27),
# 3:0:0 since it gained source_snr and source_peak (GP_FLAG_NO_SOURCE),
# 4:0:0 since it gained ra and dec (after id: every later field moved)
libgalpost_la_LDFLAGS = -version-info 4:0:0
libgalpost_la_SOURCES = \
	engine/gp_error.c
# -- angles as users type them (degrees or sexagesimal) --
libgalpost_la_SOURCES += engine/gp_angle.c
# -- weights I/O (weights/FORMAT.md) --
libgalpost_la_SOURCES += engine/gp_weights_internal.h engine/gp_weights_read.c \
	engine/gp_weights_write.c engine/gp_weights_info.c
# -- model, CPU backend, inference --
libgalpost_la_SOURCES += \
	engine/gp_backend.h engine/gp_backend.c engine/gp_backend_module.c \
	engine/gp_parallel.h engine/gp_parallel.c \
	engine/gp_rng.h \
	engine/cpu/gp_cpu.h engine/cpu/gp_cpu_backend.c engine/cpu/gp_cpu_conv.c \
	engine/gp_net.h engine/gp_net_load.c engine/gp_net_forward.c \
	engine/gp_ood.h engine/gp_ood.c \
	engine/gp_source_check.h engine/gp_source_check.c engine/gp_select.h engine/gp_select.c \
	engine/gp_model_internal.h engine/gp_model.c engine/gp_model_random.c \
	engine/gp_infer.c engine/gp_summary.c engine/gp_derived.h engine/gp_derived.c \
	engine/gp_fits_cutout.c engine/gp_fits_results.c
# -- fast CPU engine (issue 7) --
libgalpost_la_SOURCES += engine/cpu/gp_cpu_math.h engine/cpu/gp_cpu_simd.h engine/cpu/gp_cpu_stretch.c \
	engine/cpu/gp_cpu_encoder.c engine/cpu/gp_cpu_flows.c \
	engine/cpu/gp_cpu_wcache.c engine/cpu/gp_cpu_gemm.c engine/cpu/gp_cpu_dense_rows.c
# AMX kernels: their own flags, so in a convenience library of their own;
# called only after gp_cpu_have_amx() (gp_cpu_gemm.c, built without them)
if GP_AMX
noinst_LTLIBRARIES += libgpamx.la
libgpamx_la_CPPFLAGS = $(AM_CPPFLAGS)
libgpamx_la_CFLAGS = $(AM_CFLAGS) $(AMX_CFLAGS)
libgpamx_la_SOURCES = engine/cpu/gp_cpu_amx.c
libgalpost_la_LIBADD += libgpamx.la
endif
# -- FITS/WCS frames, cutouts, photometry --
libgalpost_la_SOURCES += \
	engine/gp_fits_util.h engine/gp_fits_util.c engine/gp_fill.h engine/gp_fill.c \
	engine/gp_frame.c engine/gp_zeropoint.c engine/gp_cutout.c engine/gp_photometry.c engine/gp_catalog.c \
	engine/gp_csv.h engine/gp_csv.c engine/gp_fits_table.h engine/gp_fits_table.c
libgalpost_la_SOURCES += engine/gp_shard_write.h engine/gp_shard_write.c
pkginclude_HEADERS += include/galpost/gp_image.h

pkginclude_HEADERS += \
	include/galpost/galpost.h \
	include/galpost/gp_error.h \
	include/galpost/gp_weights.h \
	include/galpost/gp_model.h \
	include/galpost/gp_fits.h

bin_PROGRAMS += galpost
galpost_CPPFLAGS = $(libgalpost_la_CPPFLAGS)
galpost_LDADD = libgalpost.la $(CFITSIO_LIBS) $(WCSLIB_LIBS) $(OPENBLAS_LIBS) $(PTHREAD_LIBS) -lm
galpost_SOURCES = \
	engine/cli/gp_cli.h \
	engine/cli/galpost_main.c \
	engine/cli/cli_util.c \
	engine/cli/cli_common.h engine/cli/cli_common.c \
	engine/cli/cli_infer.c engine/cli/cli_shard_why.h engine/cli/cli_shard_why.c \
	engine/cli/cli_infer_progress.h engine/cli/cli_infer_progress.c \
	engine/cli/cli_positions.h engine/cli/cli_positions.c engine/cli/cli_positions_read.h \
	engine/cli/cli_positions_ds9.c engine/cli/cli_positions_fits.c \
	engine/cli/cli_model_random.c
galpost_SOURCES += engine/cli/cli_model.c
# JSON writing shared by galpost infer --json and the plug-in (header-only)
noinst_HEADERS += engine/gp_json.h
# FNV-1a fingerprints (latent cache, checkpoints, the plug-in's frame cache; header-only)
noinst_HEADERS += engine/gp_hash.h
# -- training and evaluation (issue 4: engine/train/, gp_dataset) --
libgalpost_la_SOURCES += engine/cpu/gp_cpu_train.c \
	engine/gp_dataset.h engine/gp_dataset.c \
	engine/train/gp_train.h engine/train/gp_train_params.c \
	engine/train/gp_train_layers.c engine/train/gp_train_model.c \
	engine/train/gp_train_run.h engine/train/gp_train_run.c \
	engine/train/gp_eval.h engine/train/gp_eval.c \
	engine/train/gp_latent_cache.h engine/train/gp_latent_cache.c
galpost_SOURCES += engine/cli/cli_train.c engine/cli/cli_eval.c
galpost_SOURCES += engine/cli/cli_shards.c
# -- end training block --

# -- sim helpers in libgalpost (issue 3): cosmology (internal), PNG plots (cairo) --
libgalpost_la_SOURCES += engine/gp_cosmo.h engine/gp_cosmo.c engine/gp_plot.c engine/gp_plot_internal.h
pkginclude_HEADERS += include/galpost/gp_plot.h
libgalpost_la_CPPFLAGS += $(CAIRO_CFLAGS)
libgalpost_la_LIBADD += $(CAIRO_LIBS) -lfontconfig
# -- end sim helpers --
