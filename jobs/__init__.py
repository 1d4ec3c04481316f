"""Ray job entrypoints: what `memx run` / `ray job submit` execute on the cluster."""
