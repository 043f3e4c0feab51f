# rules for cuda/
