"""Training analysis: which neurons' time series to draw, and how they behaved.

>>> from pathlens.training import sample_polylines
>>> rows = sample_polylines(series, 500)  # series: [neurons, snapshots]
"""

from pathlens.training._sampling import reduce_series, sample_polylines

__all__ = ["reduce_series", "sample_polylines"]
