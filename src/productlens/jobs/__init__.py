"""Embedding jobs: vectors for many images, built apart from any catalogue and gathered later.

    listjob.py    `embed LIST --milvus`: a list embedded into a sink (Milvus, or .npz parts)
    manifest.py   manifests (CSV, JSONL, lists; local or through fsspec) and their partitions
    partition.py  `embed_partition`: one partition -> one Parquet shard (the unit a runner schedules)
    shards.py     the Parquet shards and their folder
    runners.py    local processes, Dask or Ray running the partitions, with retries
    worker_memory.py  a worker's malloc settings and memory accounting between partitions (glibc)
"""

from .listjob import (FileSink, JobItem, JobReport, MilvusSink, Sink, hash_id, iter_job_parts, job_model_key,
                      parse_shard, read_list, run_job, stream_shards)
from .manifest import ManifestRow, read_manifest
from .partition import ModelRef, PartitionReport, embed_partition, worker_embedder
from .runners import RUNNERS, PartitionFailedError, RunReport, run_partitions
from .shards import ShardRows, folder_model_key, is_shard_folder, iter_shard_rows, read_skipped

__all__ = [
    "FileSink", "JobItem", "JobReport", "ManifestRow", "MilvusSink", "ModelRef", "PartitionFailedError",
    "PartitionReport", "RUNNERS", "RunReport", "ShardRows", "Sink", "embed_partition", "folder_model_key",
    "hash_id", "is_shard_folder", "iter_job_parts", "iter_shard_rows", "job_model_key", "parse_shard",
    "read_list", "read_manifest", "read_skipped", "run_job", "run_partitions", "stream_shards", "worker_embedder",
]
