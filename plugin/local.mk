# rules for plugin/
