# rules for weights/
EXTRA_DIST += weights/FORMAT.md
# the shipped models (weights/README.md): `make install` puts them in
# $(pkgdatadir), where gp_model_default_path() finds galpost-default.gpw
dist_pkgdata_DATA += weights/galpost-default.gpw weights/galpost-photometry.gpw
EXTRA_DIST += weights/README.md weights/eval-default weights/eval-photometry
