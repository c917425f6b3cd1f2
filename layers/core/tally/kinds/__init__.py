"""Custom record kinds: defined by a site manager, validated, stored and queried like the built-in ones."""
