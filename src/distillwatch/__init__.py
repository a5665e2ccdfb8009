"""distillwatch: detect, attribute and counter the harvesting of model outputs for distillation."""

from distillwatch.errors import DistillwatchError, InputError

__version__ = "0.1.0"
__all__ = ["DistillwatchError", "InputError", "__version__"]
