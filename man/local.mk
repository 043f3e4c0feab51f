# rules for man/
dist_man_MANS += man/galpost.1
# -- galpostd (issue 5) --
dist_man_MANS += man/galpostd.1

# every man page in man/ must be `mandoc -T lint` clean
TESTS += tests/test_man_lint.sh
dist_check_SCRIPTS += tests/test_man_lint.sh

# the pages' quoted messages and example positions against the programs
TESTS += tests/test_man_examples.sh
dist_check_SCRIPTS += tests/test_man_examples.sh
