"""BatchML (MESA B2MML V0701) interchange of master recipes; the mapping is in docs/batchml.md."""

from services.batch_records.batchml.export import export_master_recipe
from services.batch_records.batchml.parse import (
    ImportedRecipe,
    import_master_recipe,
    read_master_recipe,
)

__all__ = ["ImportedRecipe", "export_master_recipe", "import_master_recipe", "read_master_recipe"]
