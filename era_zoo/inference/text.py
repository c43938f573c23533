"""Artist text for files at inference (``era-zoo predict --artist-text`` or
``--artist-text-file``), tokenized with the tokenizer the model was trained
with (:func:`~era_zoo.inference.loading.load_artist_text`).

The TSV has two columns, the file and its artist's text, one file a line;
an optional first line ``file<TAB>artist_text`` is a header. A file matches
its row by the path as written on the command line, else by its file name
when exactly one row has that name. An empty text is allowed: "artist
unknown", the audio-only input for that file.
"""
from pathlib import Path

import numpy as np

from ..errors import ConfigError, DataError


def read_artist_text_tsv(path):
    """``{file as written: text}`` from a two-column TSV.

    Args:
        path: the TSV file (UTF-8).

    Raises:
        DataError: naming the file and line, for a missing file, a line
            without a tab, a repeated file or no rows at all.

    Example:
        >>> read_artist_text_tsv("texts.tsv")  # doctest: +SKIP
        {'bach.ogg': 'Baroque composer and organist from Leipzig'}
    """
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise DataError(path, "artist text file not found") from None
    except (OSError, UnicodeDecodeError) as e:
        raise DataError(path, f"cannot read: {e}") from None
    texts = {}
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        if "\t" not in line:
            raise DataError(path, f"line {number} has no tab",
                            "each line is FILE<TAB>ARTIST TEXT")
        name, text = line.split("\t", 1)
        name = name.strip()
        if number == 1 and name.lower() == "file":
            continue
        if not name:
            raise DataError(path, f"line {number} names no file")
        if name in texts:
            raise DataError(path, f"line {number}: {name!r} is listed twice")
        texts[name] = text.strip()
    if not texts:
        raise DataError(path, "holds no rows", "each line is FILE<TAB>ARTIST TEXT")
    return texts


class ArtistTexts:
    """Token ids of each file's artist text, for
    :func:`~era_zoo.inference.tracks.predict_files`.

    Args:
        tokenizer: the model's :class:`~era_zoo.sideinfo.artist_text.ArtistTextTable`.
        text: one text for every file, or
        texts: ``{file: text}`` (e.g. :func:`read_artist_text_tsv`).
        source: where ``texts`` came from, named when a file has no row.

    Example:
        >>> texts = ArtistTexts.from_tsv("texts.tsv", load_artist_text("runs/mmc"))  # doctest: +SKIP
        >>> rows = predict_files(model, ["bach.ogg"], artist_text=texts)  # doctest: +SKIP
    """

    def __init__(self, tokenizer, *, text=None, texts=None, source="artist texts"):
        if (text is None) == (texts is None):
            raise ConfigError("artist text", "give either one text or a text per file")
        self.tokenizer, self.text, self.texts, self.source = tokenizer, text, texts, str(source)
        self._ids = {}
        if texts is not None:
            names = {}
            for key in texts:
                names.setdefault(Path(key).name, []).append(key)
            self._by_name = {name: keys[0] for name, keys in names.items() if len(keys) == 1}

    @classmethod
    def from_tsv(cls, path, tokenizer):
        """Texts per file from a TSV (see :func:`read_artist_text_tsv`).

        Args:
            path: the TSV file.
            tokenizer: the model's ArtistTextTable.

        Example:
            >>> ArtistTexts.from_tsv("texts.tsv", tokenizer)  # doctest: +SKIP
        """
        return cls(tokenizer, texts=read_artist_text_tsv(path), source=path)

    def text_of(self, file):
        """The artist text of ``file`` (a path as given).

        Args:
            file: the path as given on the command line.

        Raises:
            DataError: naming the file, when the TSV has no row for it.

        Example:
            >>> ArtistTexts(tokenizer, texts={"a/b.ogg": "x"}).text_of("b.ogg")  # doctest: +SKIP
            'x'
        """
        if self.text is not None:
            return self.text
        file = str(file)
        key = file if file in self.texts else self._by_name.get(Path(file).name)
        if key is None:
            raise DataError(file, f"has no row in {self.source}",
                            "add a line FILE<TAB>ARTIST TEXT (an empty text: artist unknown)")
        return self.texts[key]

    def __call__(self, track):
        """Token ids (seq_len,) of the track's file's artist text."""
        text = self.text_of(track.track_id)
        if text not in self._ids:
            self._ids[text] = np.asarray(self.tokenizer.tokenize([text])[0])
        return self._ids[text]
