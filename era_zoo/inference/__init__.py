"""Using a model: one path from any model source and any track or file to
embeddings and era predictions.

Every caller goes through here: ``era-zoo predict|embed|project``, the
benchmark sources (:func:`era_zoo.bench.sources.embed_with_model`), the era
benchmark (:func:`era_zoo.bench.era.predict_with_model`), the projector and
the demo. So a track gives the same chunks, the same padding (repetition, as
in training crops), the same mel-or-audio choice and the same rows whichever
of them asks.

    from era_zoo.inference import load_model, predict_files, embed_tracks
    model = load_model("audioart_mmc")          # its default preset
    rows = predict_files(model, ["song.ogg"])
    emb = embed_tracks(model, table)   # TrackEmbeddings at the model's default level

Modules: :mod:`~era_zoo.inference.loading` (model sources),
:mod:`~era_zoo.inference.inputs` (chunks, padding, mel or audio),
:mod:`~era_zoo.inference.tracks` (embeddings and era predictions),
:mod:`~era_zoo.inference.text` (artist text for files).
"""
from .inputs import (as_chunks, chunk_hop, chunk_mel, file_track, open_mel, read_mel,
                     repeat_frames, track_chunks, track_input, waveform_to_mel)
from .loading import load_artist_text, load_model, run_model_file
from .text import ArtistTexts, read_artist_text_tsv
from .tracks import (AUDIO_ONLY_NOTE, TrackEmbeddings, check_era_model, chunk_embeddings,
                     chunk_probabilities, default_level, embed, embed_files, embed_tracks,
                     embedding_levels,
                     era_probabilities, era_summary, input_frames, input_note,
                     iter_track_chunks, minimum_frames, minimum_seconds, model_batch,
                     predict_era, predict_files,
                     predict_tracks, predicted_year, reads_artist_text, text_row)

__all__ = [
    "AUDIO_ONLY_NOTE", "ArtistTexts", "TrackEmbeddings", "as_chunks", "check_era_model",
    "chunk_embeddings", "chunk_hop", "chunk_mel", "chunk_probabilities", "default_level", "embed",
    "embed_files", "embed_tracks", "embedding_levels", "era_probabilities", "era_summary",
    "file_track", "input_frames", "input_note", "iter_track_chunks",
    "load_artist_text", "load_model", "minimum_frames", "minimum_seconds", "model_batch",
    "open_mel", "predict_era",
    "predict_files", "predict_tracks", "predicted_year", "read_artist_text_tsv", "read_mel",
    "reads_artist_text", "repeat_frames", "run_model_file", "text_row", "track_chunks",
    "track_input", "waveform_to_mel",
]
