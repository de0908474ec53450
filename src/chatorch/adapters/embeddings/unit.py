"""Vectors made unit length, so their dot product is their cosine."""

import numpy as np
import numpy.typing as npt


def unit_rows(matrix: npt.ArrayLike) -> list[list[float]]:
    """Each row of ``matrix`` divided by its length; a row of zeros stays zeros.

    Dividing a zero row would give NaNs and a RuntimeWarning: such a row (a text the
    model read nothing in) is left as it is, near nothing.
    """
    rows = np.asarray(matrix, dtype=np.float32)
    lengths = np.linalg.norm(rows, axis=1, keepdims=True)
    unit = np.divide(rows, lengths, out=np.zeros_like(rows), where=lengths > 0)
    vectors: list[list[float]] = unit.tolist()
    return vectors
