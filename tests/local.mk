# tests/: cmocka programs and scripts run by `make check` (exit 77 = skip).
TEST_CPPFLAGS = $(AM_CPPFLAGS) $(CMOCKA_CFLAGS) $(CFITSIO_CFLAGS) $(WCSLIB_CFLAGS) $(OPENBLAS_CFLAGS)
TEST_LDADD = libgalpost.la $(CMOCKA_LIBS) $(CFITSIO_LIBS) $(WCSLIB_LIBS) $(OPENBLAS_LIBS) -lm
AM_TESTS_ENVIRONMENT = \
	GP_TOP_SRCDIR='$(abs_top_srcdir)'; export GP_TOP_SRCDIR; \
	GP_TOP_BUILDDIR='$(abs_top_builddir)'; export GP_TOP_BUILDDIR; \
	GP_SHARED_DATA="$${GP_SHARED_DATA:-$(abs_top_srcdir)/../shared/data}"; export GP_SHARED_DATA;

check_PROGRAMS += tests/test_error
tests_test_error_SOURCES = tests/test_error.c
tests_test_error_CPPFLAGS = $(TEST_CPPFLAGS)
tests_test_error_LDADD = $(TEST_LDADD)

TESTS += $(check_PROGRAMS)

# -- image tests: frames, cutouts, photometry, catalogues (issue 5) --
check_PROGRAMS += tests/test_cutout tests/test_photometry tests/test_catalog
IMAGE_FIXTURE = tests/image_fixture.h tests/image_fixture.c
tests_test_cutout_SOURCES = tests/test_cutout.c $(IMAGE_FIXTURE)
tests_test_cutout_CPPFLAGS = $(TEST_CPPFLAGS)
tests_test_cutout_LDADD = $(TEST_LDADD)
tests_test_photometry_SOURCES = tests/test_photometry.c $(IMAGE_FIXTURE)
tests_test_photometry_CPPFLAGS = $(TEST_CPPFLAGS)
tests_test_photometry_LDADD = $(TEST_LDADD)
tests_test_catalog_SOURCES = tests/test_catalog.c $(IMAGE_FIXTURE)
tests_test_catalog_CPPFLAGS = $(TEST_CPPFLAGS)
tests_test_catalog_LDADD = $(TEST_LDADD)
