"""Tests of memx.reduce: trigram rule, selection, LSH clusters, end to end."""
