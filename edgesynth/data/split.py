"""Train/test splits that never leak: whole groups (files, recordings) go to one side.

Windows cut from the same recording are near-duplicates; putting some in train and others in test
inflates every metric. Both splitters here move *groups* (``Dataset.groups``), never single
windows.

Example
-------
>>> import numpy as np
>>> from edgesynth.data import Dataset
>>> ds = Dataset(X=np.zeros((8, 4, 1)), y=np.array([0, 0, 0, 0, 0, 0, 1, 1]),
...              groups=np.array([0, 0, 1, 1, 2, 2, 3, 3]))
>>> train, test = train_test_split_groups(ds, test_size=0.5, seed=0)
>>> set(train.groups.tolist()) & set(test.groups.tolist())
set()
"""
from __future__ import annotations

import numpy as np

from edgesynth.data.dataset import Dataset
from edgesynth.errors import DataError, ParameterError


def _n_test(n_groups: int, test_size) -> int:
    if isinstance(test_size, (float, np.floating)) and 0.0 < test_size < 1.0:
        k = int(round(test_size * n_groups))
    elif isinstance(test_size, (int, np.integer)) and not isinstance(test_size, bool) and test_size > 0:
        k = int(test_size)
    else:
        raise ParameterError(
            f"`test_size` must be a fraction in (0, 1) or a positive number of groups. Received: test_size={test_size!r}"
        )
    return min(max(k, 1), n_groups - 1)


def train_test_split_groups(
    ds: Dataset, *, test_size: float | int = 0.25, seed: int | None = 0, stratify: bool = True
) -> tuple[Dataset, Dataset]:
    """Split a dataset by groups.

    Parameters
    ----------
    ds : Dataset
        Windows with ``groups`` (recording id per window).
    test_size : float in (0, 1) or int
        Fraction (or number) of *groups* that go to the test side; at least one group on each side.
    seed : int or None
        Seed of ``np.random.default_rng``.
    stratify : bool
        When labelled, split groups that hold anomalies and purely normal groups separately, so
        both sides get anomalous groups whenever there are at least two of them.

    Returns
    -------
    train, test : Dataset
        Disjoint in groups; their union is ``ds``. Window order is kept.
    """
    groups = np.asarray(ds.groups)
    uniq = np.unique(groups)
    if uniq.size < 2:
        raise DataError(
            f"{ds.source or 'dataset'}: a leak-free split needs at least 2 groups (files or recordings); "
            f"found {uniq.size}"
        )
    rng = np.random.default_rng(seed)
    k_total = _n_test(uniq.size, test_size)
    if stratify and ds.y is not None:
        anomalous = np.isin(uniq, np.unique(groups[ds.y == 1]))
        strata = [uniq[anomalous], uniq[~anomalous]]
    else:
        strata = [uniq]
    frac = k_total / uniq.size
    test_groups = []
    for s in strata:
        if s.size >= 2:
            k = min(max(int(round(frac * s.size)), 1), s.size - 1)
        else:  # a lone group goes to test with probability `frac`
            k = int(s.size == 1 and rng.random() < frac)
        test_groups.extend(rng.choice(s, size=k, replace=False).tolist())
    test_mask = np.isin(groups, test_groups)
    if test_mask.all() or not test_mask.any():  # degenerate strata: fall back to a plain split
        test_groups = rng.choice(uniq, size=k_total, replace=False)
        test_mask = np.isin(groups, test_groups)
    return ds.subset(~test_mask), ds.subset(test_mask)


def split_from_meta(ds: Dataset) -> tuple[Dataset, Dataset]:
    """The split a corpus ships with (DCASE ``train/``, ``test/``): ``meta["split"]`` per group."""
    split = ds.meta.get("split")
    if not split or any(s not in ("train", "test") for s in split):
        raise DataError(f"{ds.source or 'dataset'}: no train/test split recorded (needs DCASE layout)")
    test_groups = [g for g, s in enumerate(split) if s == "test"]
    mask = np.isin(ds.groups, test_groups)
    if mask.all() or not mask.any():
        raise DataError(f"{ds.source or 'dataset'}: the recorded split has an empty train or test side")
    return ds.subset(~mask), ds.subset(mask)


__all__ = ["train_test_split_groups", "split_from_meta"]
