"""The data path: read → sample → render + tokenize (batched) → cache → batches.

Light to import (no torch): `Table`, `read_table`, `read_header`. The tensor side lives in
`promptdsl.data.render`, `.collate`, `.batching`, `.cache`, `.dataset`.
"""
from .readers import format_for, read_header, read_table
from .table import Table, did_you_mean

__all__ = ["Table", "read_table", "read_header", "format_for", "did_you_mean"]
