"""bench: the detection benchmark (a fixed simulated suite, scored against its labels).

``run_bench`` runs ``simulate``, ``scan`` and ``watch`` as a user would and scores them;
``evaluate`` is the scoring step on its own; the metric functions are pure.
"""

from distillwatch.bench._engines import run_engine_bench
from distillwatch.bench._metrics import (
    OperatingPoint,
    adjusted_rand_index,
    auroc,
    calls_before_time,
    calls_to_first_alert,
    largest_shared_cluster,
    percentile,
    share,
    singletons,
    tpr_at_fpr,
)
from distillwatch.bench._parity import output_differences, value_differences
from distillwatch.bench._render import NOT_AVAILABLE, build_table, render_table, write_json
from distillwatch.bench._runner import (
    FPR_TARGETS,
    HARD_NEGATIVE_PROFILES,
    SEEDS,
    SIZES,
    BenchConfig,
    StepResult,
    cost_section,
    default_json_path,
    evaluate,
    find_cli,
    machine_info,
    run_bench,
)

__all__ = [
    "FPR_TARGETS",
    "HARD_NEGATIVE_PROFILES",
    "NOT_AVAILABLE",
    "SEEDS",
    "SIZES",
    "BenchConfig",
    "OperatingPoint",
    "StepResult",
    "adjusted_rand_index",
    "auroc",
    "build_table",
    "calls_before_time",
    "calls_to_first_alert",
    "cost_section",
    "default_json_path",
    "evaluate",
    "find_cli",
    "largest_shared_cluster",
    "machine_info",
    "output_differences",
    "percentile",
    "render_table",
    "run_bench",
    "run_engine_bench",
    "share",
    "singletons",
    "tpr_at_fpr",
    "value_differences",
    "write_json",
]
