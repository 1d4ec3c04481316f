"""The composition root: the `memx` command line (cli.py) and the entrypoints a Ray job
runs (`python -m jobs.run|generate|score CONFIG`), wiring the library (memx/) to the
cluster code (cluster/). Some of it runs on the driver only (the CLI, `memx submit`);
nothing here is imported by memx/."""
