"""Element and formal-charge vocabularies for QM9 and GEOM-drugs (EDM's order)."""

QM9_ATOMS: tuple[str, ...] = ("H", "C", "N", "O", "F")
GEOM_ATOMS: tuple[str, ...] = (
    "H", "B", "C", "N", "O", "F", "Al", "Si", "P", "S", "Cl", "As", "Br", "I", "Hg", "Bi",
)  # fmt: skip
CHARGES: tuple[int, ...] = (-1, 0, 1)
GEOM_CHARGES: tuple[int, ...] = (-1, 0, 1, 2, 3)

ATOMIC_NUMBERS: dict[str, int] = {
    "H": 1, "B": 5, "C": 6, "N": 7, "O": 8, "F": 9, "Al": 13, "Si": 14, "P": 15, "S": 16,
    "Cl": 17, "As": 33, "Br": 35, "I": 53, "Hg": 80, "Bi": 83,
}  # fmt: skip
SYMBOLS: dict[int, str] = {z: s for s, z in ATOMIC_NUMBERS.items()}

__all__ = ["ATOMIC_NUMBERS", "CHARGES", "GEOM_ATOMS", "GEOM_CHARGES", "QM9_ATOMS", "SYMBOLS"]
