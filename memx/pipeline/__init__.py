"""The machinery that knows a Run: everything else in memx is rows in, rows out.

- `run`: the Run (storage, config, inputs; each stage planned once), new_run / open_run,
  config.json's rule (start_run);
- `inputs`: the run's inputs opened once (Inputs, OpenIndex); `checks`: check_inputs;
- `stages`: the sharded stages, declared once (Stage, STAGES);
- `runner`: ShardRunner, the one skip -> rows -> write -> commit; `runners`: each stage's rows;
- `steps`: the whole-run steps, declared once (Step, STEPS: candidates, verify,
  memorization.json, discoverable.json, extraction.json, report.html), run_steps, finished;
- `status`, `status_view`: where a run stands, from its manifests;
- `candidates`, `memorization`, `extraction_results`, `report`: what the steps read and write.

It knows no Ray (`cluster/` schedules the stages on it). The package root imports nothing.
"""
