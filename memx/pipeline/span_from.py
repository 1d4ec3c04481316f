"""Sample shards read with their `span_from` (docs/chat.md): the first generated token a
memorized span may start at. Shards written before the column existed (runs of older
versions) read as 0 for every row, which is what every strategy of theirs meant.

It knows the shard layout (`memx.shards`), not what the column is used for.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq

from memx.plan import ShardSpec
from memx.shards import data_key
from memx.storage import Storage

SPAN_FROM = "span_from"


def read_samples(storage: Storage, spec: ShardSpec, columns: list[str]) -> pa.Table:
    """`columns` of a committed sample shard, plus `span_from` (int32; 0 when absent)."""
    with storage.open_input_file(data_key(spec)) as handle:
        parquet = pq.ParquetFile(handle)
        has = SPAN_FROM in parquet.schema_arrow.names
        table = parquet.read(columns=columns + ([SPAN_FROM] if has else []))
    if not has:
        table = table.append_column(SPAN_FROM, pa.array([0] * table.num_rows, pa.int32()))
    return table
