"""One module per page family; each exposes router(ui) -> APIRouter."""
