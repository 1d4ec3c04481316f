"""Ray actors, task queue and placement: the only package besides jobs/ that imports Ray."""
