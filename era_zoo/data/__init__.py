"""Datasets: readers for the MSD, Melon, GTZAN and MTG-Jamendo layouts, each
returning one ``TrackTable``; fixture writers for tiny copies of each layout
(``era_zoo.data.fixtures``); dataset summaries (``era_zoo.data.info``).

    from era_zoo.data import read_dataset
    table = read_dataset("gtzan", "/data/gtzan")
    table.split("train"), table.problems

Importing this package is cheap: readers load on first use.
"""
from .problems import ProblemReport
from .readers import READERS, read_dataset
from .table import SPLITS, Track, TrackTable

__all__ = ["READERS", "SPLITS", "ProblemReport", "Track", "TrackTable", "read_dataset"]
