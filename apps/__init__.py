"""Domain applications, one subpackage each; imported lazily, never by the core."""
