"""Scale benchmark (issue 7): 600,000 samples planned in 600 shards through the real
queue, actors, storage and manifests on a simulated multi-node Ray cluster with fake
GPUs, each replica a fixed-rate stand-in model (tests/bench/standin.py).

Prints, side by side: orchestration overhead against the ideal makespan, throughput as
simulated workers go 1 -> 2 -> 4 -> 8 (weak scaling: the same shards per worker), and the
time `memx status` (the real CLI, checksums on) takes on the 600-shard run, and what
resuming it costs after a simulated driver kill (manifests of 8 shards removed, their data
files left half-way): the status scan that finds them plus regenerating only those 8.
The resume goes through the same status scan and pool as `memx resume`, in process,
because the CLI would go on to score with a real model, which the stand-in is not.

    python tests/bench/bench_scale.py [--shard-seconds 0.25] [--tokens 64]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


def config_dict(output: str, shards: int, tokens: int, batch: int) -> dict:
    return {"run_id": "scale", "output": output, "target": {"model": "stand-in"},
            "generation": {"strategies": ["top_k"], "samples_per_strategy": shards * 1000, "shard_size": 1000,
                           "batch_size": batch, "max_new_tokens": tokens},
            "scoring": {"metrics": ["perplexity"]}, "cluster": {"actors": "auto", "gpus_per_actor": 1}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shard-seconds", type=float, default=0.25, help="stand-in model time per 1000-sample shard")
    parser.add_argument("--tokens", type=int, default=32, help="tokens per sample written to the shards")
    parser.add_argument("--workers", default="1,2,4,8")
    args = parser.parse_args()
    os.environ["MEMX_STANDIN_TOKENS_PER_S"] = str(1000 * args.tokens / args.shard_seconds)

    import ray
    from ray.cluster_utils import Cluster

    from cluster.actors import Placement
    from cluster.pool import StageWork, run_stages
    from memx.config import parse_config
    from memx.pipeline.run import start_run
    from memx.shards import manifest_key
    from memx.pipeline.status import stage_status
    from memx.pipeline.run import new_run

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    for _ in range(2):
        cluster.add_node(num_cpus=4, num_gpus=4)
    cluster.wait_for_nodes()

    def join_cluster() -> None:  # the stand-in's rate follows the driver to its actors
        ray.init(address=cluster.address,
                 runtime_env={"env_vars": {"MEMX_STANDIN_TOKENS_PER_S": os.environ["MEMX_STANDIN_TOKENS_PER_S"]}})

    join_cluster()
    root = tempfile.mkdtemp(prefix="memx-scale-")
    rows = []
    try:
        for workers in [int(w) for w in args.workers.split(",")]:
            shards = 600 if workers == 8 else 75 * workers
            config = parse_config(config_dict(os.path.join(root, f"w{workers}"), shards, args.tokens, 250))
            specs = new_run(config).plan("samples")
            start_run(new_run(config))
            work = StageWork("samples", specs, Placement(workers, 1.0, 0.5, 1), runner="tests.bench.standin:FixedRateRunner")
            started = time.perf_counter()
            result = run_stages(new_run(config), [work], show_progress=False)["samples"]
            wall = time.perf_counter() - started
            assert len(result.done) == shards and result.rows == shards * 1000
            ideal = shards * args.shard_seconds / workers
            status = stage_status(new_run(config), "samples", verify_checksums=False)
            steady = status.last_commit - status.first_commit  # from the first shard's start: no actor start-up
            rows.append((workers, shards, wall, steady, ideal, result.rows / steady))
            print(f"workers={workers} shards={shards} wall={wall:.1f}s steady={steady:.1f}s ideal={ideal:.1f}s",
                  flush=True)
        ray.shutdown()
        big = os.path.join(root, "w8")
        big_config = parse_config(config_dict(big, 600, args.tokens, 250))
        storage = new_run(big_config).storage
        specs = new_run(big_config).plan("samples")
        lost = specs[::75]  # 8 shards, spread over the run
        for spec in lost:
            storage.delete(manifest_key(spec))
        started = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "jobs.cli", "status", os.path.join(big, "scale")],
                              capture_output=True, text=True)
        status_seconds = time.perf_counter() - started
        assert proc.returncode == 0, proc.stderr
        join_cluster()
        started = time.perf_counter()
        todo = stage_status(new_run(big_config), "samples").todo
        scan_seconds = time.perf_counter() - started
        assert sorted(s.key for s in todo) == sorted(s.key for s in lost)
        work = StageWork("samples", todo, Placement(8, 1.0, 0.5, 1), runner="tests.bench.standin:FixedRateRunner")
        result = run_stages(new_run(big_config), [work], show_progress=False)["samples"]
        resume_seconds = time.perf_counter() - started
        assert len(result.done) == len(lost)
        final = stage_status(new_run(big_config), "samples")
        assert len(final.committed) == 600 and final.units_done == 600_000
    finally:
        if ray.is_initialized():
            ray.shutdown()
        cluster.shutdown()
        shutil.rmtree(root, ignore_errors=True)
    base = rows[0][5]
    print("\nworkers  shards  wall_s  steady_s  ideal_s  overhead(steady)  overhead(wall)  samples/s  speedup")
    for workers, shards, wall, steady, ideal, rate in rows:
        print(f"{workers:>7}  {shards:>6}  {wall:>6.1f}  {steady:>8.1f}  {ideal:>7.1f}  {100 * (steady / ideal - 1):>15.1f}%"
              f"  {100 * (wall / ideal - 1):>13.1f}%  {rate:>9,.0f}  {rate / base:>6.2f}x")
    print("steady = first shard start to last commit (excludes actor start-up: model load here, minutes on GPUs)")
    print(f"\nmemx status on 600 shards (CLI, checksums on): {status_seconds:.1f}s")
    print(f"resume after losing 8 of 600 shards: scan {scan_seconds:.1f}s, total {resume_seconds:.1f}s "
          f"(8 shards regenerated, 592 untouched; ideal for 8 shards on 8 workers {args.shard_seconds:.1f}s "
          f"+ actor start-up)")


if __name__ == "__main__":
    main()
