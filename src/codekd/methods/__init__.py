"""Distillation methods: one file each, registered by name in :data:`METHODS`.

Every module of this package is imported here, so a method file registers itself
(``@register_method``) without an edit anywhere else.
"""

import importlib
import pkgutil

from .base import METHODS, Method, MethodContext, Needs, Outputs, get_method, register_method

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")
del _module

__all__ = ["METHODS", "Method", "MethodContext", "Needs", "Outputs", "get_method", "register_method"]
