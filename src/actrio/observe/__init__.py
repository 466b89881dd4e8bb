"""Exporters of the event stream."""

from actrio.observe._jsonl import JsonlExporter as JsonlExporter
from actrio.observe._jsonl import JsonlFormatError as JsonlFormatError
from actrio.observe._jsonl import iter_jsonl as iter_jsonl
from actrio.observe._jsonl import load_jsonl as load_jsonl
from actrio.observe._jsonl import open_jsonl_exporter as open_jsonl_exporter

__all__ = ("JsonlExporter", "JsonlFormatError", "iter_jsonl", "load_jsonl", "open_jsonl_exporter")
