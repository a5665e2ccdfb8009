"""engine: the thin adapters that let one pipeline run on DuckDB (default) or Spark.

Only reading, running the per-call batch function, storing intermediate tables and session
settings differ between engines; every stage's logic (schema, feature function, SQL text,
scoring, graph code) exists once. ``Tables`` is the surface the analysis stages query; the
DuckDB ``Store`` implements it, and ``distillwatch.engine.spark`` (imported only when asked
for, since it needs PySpark) holds ``SparkTables``.
"""

from distillwatch.engine._tables import Params, Tables

__all__ = ["ENGINES", "Params", "Tables"]

#: Engines ``distillwatch scan --engine`` accepts.
ENGINES = ("duckdb", "spark")
