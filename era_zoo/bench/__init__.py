"""Downstream benchmarks of the papers: GTZAN genre classification,
MTG-Jamendo auto-tagging, Melon playlist continuation (paper B) and era
recognition (paper A), for any embedding source.

    from era_zoo.bench import load_embeddings, run_gtzan
    result = run_gtzan(read_gtzan(root), load_embeddings("gtzan.npz"))

Protocol details and the choices the papers leave open are in each module's
docstring; metric formulas in ``metrics``.
"""
from .era import run_era
from .gtzan import run_gtzan
from .jamendo import run_jamendo
from .melon import run_melon
from .report import markdown_table, write_plots
from .sources import Embeddings, embed_table, load_embeddings, save_embeddings, track_key

__all__ = ["Embeddings", "embed_table", "load_embeddings", "save_embeddings", "track_key",
           "run_gtzan", "run_jamendo", "run_melon", "run_era",
           "markdown_table", "write_plots"]
