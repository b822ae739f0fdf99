"""Distillation methods: one file each, registered by name in :data:`METHODS`."""

from .base import METHODS, Method, MethodContext, Needs, Outputs, get_method, register_method
from . import ft, kd, dist, pkd, ckd, dkd, tinybert  # noqa: F401  (registration)

__all__ = ["METHODS", "Method", "MethodContext", "Needs", "Outputs", "get_method", "register_method"]
