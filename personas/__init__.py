"""Personas: named presets of ``claude`` settings (the model, the loader and its checks, in
``catalog``) and the presets pocketcode ships (``shipped/``). A user directory loaded after the
shipped one overrides them by name."""

from pathlib import Path

from personas.catalog import Persona, PersonaCatalog, PersonaProblem, UnknownPersona, load_personas

SHIPPED_DIR = Path(__file__).parent / "shipped"

__all__ = [
    "SHIPPED_DIR",
    "Persona",
    "PersonaCatalog",
    "PersonaProblem",
    "UnknownPersona",
    "load_personas",
]
