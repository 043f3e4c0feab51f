# rules for weights/
