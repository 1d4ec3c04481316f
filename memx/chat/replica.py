"""The models one scoring replica holds: the target (with its adapter unmerged, when it has
one, each forward folding it in: `memx.models.folded_view`) and every reference. A reference
whose `model` is the target's own and whose dtype matches is the target's replica seen with
the adapter disabled (`memx.models.base_view`): one copy of the base weights per replica,
and `ratio_<name>` then separates what the fine-tune memorized from what the base already
knew (docs/chat.md). Every other reference is loaded as its own model.

It knows model configs and `memx.models`, not runs, shards or metrics.
"""

from __future__ import annotations

from pathlib import Path

from memx.models import LoadedModel, base_view, folded_view, load_causal_lm


def same_model(a: str, b: str) -> bool:
    """Two `model` fields naming the same weights: equal as written, or the same local directory."""
    if a == b:
        return True
    pa, pb = Path(a).expanduser(), Path(b).expanduser()
    return pa.exists() and pb.exists() and pa.resolve() == pb.resolve()


def shares_base(target, reference) -> bool:
    """The reference is the target's base: same weights, same dtype, and the target has an adapter."""
    return (target.adapter is not None and same_model(target.model, reference.model)
            and reference.dtype == target.dtype and getattr(reference, "adapter", None) is None)


def load_scoring_models(target, references, device=None) -> tuple[LoadedModel, dict[str, LoadedModel]]:
    """(the target, {reference name: model}) for one replica; `target`/`references`: the config's."""
    lm = load_causal_lm(target.model, target.dtype, device, adapter=target.adapter, merge=False)
    loaded = {ref.name: base_view(lm, ref.name) if shares_base(target, ref)
              else load_causal_lm(ref.model, ref.dtype, lm.device) for ref in references}
    return (folded_view(lm) if lm.adapter is not None else lm), loaded
