"""The one shared renderer: a loopfile's ``deploy`` block -> the Kubernetes objects to apply.

``render_objects`` is what ``loopdev up`` applies and ``loopdev render`` prints;
``to_yaml`` is its deterministic text form.
"""

from __future__ import annotations

from loopdev.render.labels import (
    MANAGED_BY_LABEL,
    PROJECT_LABEL,
    RESOURCE_LABEL,
    project_selector,
)
from loopdev.render.pipeline import render_objects
from loopdev.render.yamlout import to_yaml

__all__ = [
    "MANAGED_BY_LABEL",
    "PROJECT_LABEL",
    "RESOURCE_LABEL",
    "project_selector",
    "render_objects",
    "to_yaml",
]
