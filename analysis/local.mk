# rules for analysis/
