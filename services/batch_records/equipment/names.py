"""The published vocabulary of the equipment register: resource names.

Pure (standard library only): other contexts may import this module.
"""

from __future__ import annotations


def equipment_name(equipment_id: str) -> str:
    return f"equipment/{equipment_id}"
