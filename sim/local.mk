# rules for sim/
