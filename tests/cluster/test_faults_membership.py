"""A membership actor SIGKILLed mid-shard on a simulated two-node cluster of its own (the
fault tests' cluster, started fresh for this module: after the other fault tests' kills on
a shared cluster it once failed where it passes alone), then resume of a lost shard."""

from __future__ import annotations

import json

import pytest

from cluster.schedule import run_shard_stages
from memx.config import parse_config
from memx.pipeline.run import new_run
from memx.pipeline.status import stage_status
from memx.shards import read_shard
from tests.cluster.test_faults import stage_with_an_actor_killed, two_node_cluster  # noqa: F401 (a fixture, started per module)
from tests.support.tiny import run_config


def test_sigkill_of_a_membership_actor_mid_shard_then_resume_redoes_only_what_is_missing(
        two_node_cluster, tmp_path, tiny_family):
    from memx.pipeline.membership import MembershipRunner
    from memx.pipeline.stages import MEMBERSHIP
    from memx.shards import data_key, manifest_key
    from tests.support.tiny import prose

    sides = {}
    for side, offset in (("members", 0), ("nonmembers", 100)):
        sides[side] = tmp_path / f"{side}.jsonl"
        sides[side].write_text("".join(json.dumps({"text": prose(40, seed=offset + s)}) + "\n" for s in range(24)))
    raw = run_config(str(tmp_path / "out"), tiny_family, cluster={"actors": 2})
    raw["generation"] = {"strategies": []}
    raw["scoring"] = {"metrics": ["perplexity", "ratio", "min_k_plus_plus"], "batch_size": 1}  # slow shards
    raw["membership"] = {"members": str(sides["members"]), "nonmembers": str(sides["nonmembers"]),
                         "max_tokens": 256, "shard_documents": 3, "bootstrap": 50}
    config = parse_config(raw)
    # a shard scores in ~0.04 s here, so the kill lands at once: 16 shards keep both actors busy
    # long after it, and a delay could let every shard finish first (no restart to see)
    stage_with_an_actor_killed(new_run(config), MEMBERSHIP, delay=0.0)
    run = new_run(config)
    assert stage_status(run, MEMBERSHIP).todo == []
    rows = {side: [d for spec in run.plan(MEMBERSHIP) if spec.strategy == side
                   for d in read_shard(run.storage, spec, ["document"]).column("document").to_pylist()]
            for side in sides}
    assert rows == {side: list(range(24)) for side in sides}, "every document of each side exactly once"
    # every shard, the redone one included, equals a clean single-process run of its spec
    clean = MembershipRunner(new_run(parse_config({**raw, "output": str(tmp_path / "clean")})), device="cpu",
                             num_threads=1)
    def same(spec) -> None:  # keys exactly; floats as the scorer test compares them (threads differ)
        got, want = read_shard(run.storage, spec), read_shard(clean.storage, spec)
        assert got.schema == want.schema, spec.key
        for name in got.column_names:
            if name.startswith(("score_", "nll_")):
                assert got.column(name).to_pylist() == pytest.approx(want.column(name).to_pylist(), abs=1e-5)
            else:
                assert got.column(name).equals(want.column(name)), (spec.key, name)

    for spec in run.plan(MEMBERSHIP):
        clean.run(spec)
        same(spec)
    # resume: one shard lost (data and manifest) is the only one made again
    lost = run.plan(MEMBERSHIP)[-1]
    run.storage.delete(manifest_key(lost))
    run.storage.delete(data_key(lost))
    again = run_shard_stages(new_run(config), stages=(MEMBERSHIP,), show_progress=False)[MEMBERSHIP]
    assert [r["shard"] for r in again.records if not r.get("skipped")] == [lost.key]
    same(lost)
