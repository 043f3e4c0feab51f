# rules for weights/
EXTRA_DIST += weights/FORMAT.md
