"""A recipe's ``[data]`` and ``[sideinfo]`` sections -> training datasets.

:class:`TrainingData` reads the dataset with its reader, builds the side
information the model reads (only that), aligns it with the rows of each
split, leaves out tracks that lack a label the model needs (counted, never
silently), and makes the batches: the tf.data pipelines, or the same
batches from :class:`~era_zoo.data.pydataset.MelBatches` where TensorFlow is
not installed.

What each model reads besides ``mel`` (the model's ``input_keys`` and
``target_keys``) and where it comes from:

- ``year_class``: the track's year in the model's ``year_bins``, whose
  ``"auto"`` start and end become the training split's earliest and latest
  years (the model is built with the resolved bins); tracks without a year
  are left out (``no_year``), tracks outside the classes are clipped into
  the nearest end class and counted (``year_clipped``).
- ``genre_ids``: genre word2vec (gensim) fitted on the *training* split's
  genre baskets; ids of the first 10 known genres, 0 = padding. The model
  gets ``genre_encoder.vocab_size`` and the word2vec matrix as the initial
  embedding. Tracks without a known genre are left out (``no_genre``).
- ``genre_multi_hot``: the training split's genre codes, sorted; the model
  gets ``n_genres``. Tracks without a known genre are left out.
- ``cf``: playlist CF vectors (implicit BPR, training tracks only, other
  tracks folded in); the model gets the CF width. Tracks without playlists
  have no vector and are left out (``no_cf_vector``).
- ``artist_text`` / ``artist_index``: WordPiece ids of the artist's text
  (keras-hub vocabulary from the biographies, the model gets a matching
  ``ArtistTextTransformer``) or, with ``sideinfo.text.vectors = PATH``,
  precomputed vectors (``PrecomputedTextEncoder``). ``artist_index`` is the
  artist's row; -1 where the artist has no text (the MMC loss then skips
  the track as an anchor; the track still trains the other terms).

With ``data.cache_dir`` the fitted word2vec and CF vectors are cached there
too (keyed by data and settings), so a resumed or repeated run loads them
instead of fitting again.

Data order is a function of ``training.seed`` and the epoch only:
:meth:`TrainingData.train_dataset` builds each epoch's pipeline with its own
seed (shuffle and crop streams), which is what makes a resumed run exact.
"""
import inspect

import numpy as np

from ..audio.presets import get_preset
from ..data.problems import ProblemReport
from ..errors import ConfigError
from ..frameworks import has_tensorflow
from ..layers.genre_encoder import MAX_GENRES
from ..registry import model_class
from .recipe import mel_preset_name, model_arguments


def epoch_seed(seed, epoch):
    """The pipeline seed of one epoch: distinct streams for every (seed, epoch)."""
    return int(np.random.SeedSequence([int(seed), int(epoch)]).generate_state(1)[0])


def model_keys(name):
    """(input_keys, target_keys) the registry's model ``name`` reads."""
    cls = model_class(name)
    return tuple(cls.input_keys), tuple(cls.target_keys)


class TrainingData:
    """Datasets of a recipe (see the module docstring).

    Attributes: ``table`` (the TrackTable read), ``splits`` (split name ->
    (TrackTable, side arrays)), ``model_config`` (what the model must be
    built with: widths and vocabularies of the side information),
    ``steps_per_epoch``, ``validation_steps``, ``problems``.
    """

    def __init__(self, recipe, *, progress=True):
        from ..data.readers import get_reader
        self.recipe = recipe
        data = recipe["data"]
        self.name = recipe["model"]["name"]
        self.spec = get_preset(mel_preset_name(recipe))
        self.frames = data["frames"]
        self.seed = recipe["training"]["seed"]
        self.batch_size = recipe["training"]["batch_size"]
        self.drop_remainder = recipe["training"]["drop_remainder"]
        self.on_error = data["on_error"]
        self.cache_dir = data["cache_dir"] or None
        self.progress = progress
        self.problems = ProblemReport()
        self.artist_text = None  # the ArtistTextTable, when the model reads artist text

        reader = get_reader(data["reader"])
        options = dict(data["options"])
        params = inspect.signature(reader).parameters
        if "on_error" in params:
            options.setdefault("on_error", self.on_error)
        for key in options:
            if key not in params:
                raise ConfigError(f"data.options.{key}",
                                  f"not an option of the {data['reader']} reader",
                                  f"options: {', '.join(p for p in params if p != 'root')}")
        self.table = reader(data["root"], **options)
        self.problems.merge(self.table.problems)
        self.source = self._source(data["source"])
        input_keys, target_keys = model_keys(self.name)
        self.needs = set(input_keys + target_keys) - {"mel"}
        self.model_config = {}
        self._features = self._build_side_information()

        self.split_names = {"train": data["train_split"], "valid": data["valid_split"]}
        self.loader = "tf.data" if has_tensorflow() else "pydataset"
        if self.loader == "pydataset":
            print("era-zoo train: TensorFlow is not installed: batches come from "
                  "era_zoo.data.pydataset (the tf.data pipeline's crops, read in NumPy)",
                  flush=True)
        self.splits = {}
        for role, split in self.split_names.items():
            self.splits[role] = self._split(split, role)
        self._check_sizes()
        self.steps_per_epoch = self._steps_per_epoch()
        available = self._batches(self._usable("valid"))
        self.validation_steps = min(recipe["training"]["validation_steps"] or available,
                                    available)

    # -- reading -----------------------------------------------------------
    def _source(self, source):
        if source != "auto":
            return source
        has_mel = all(t.mel_path for t in self.table)
        return "mel" if has_mel else "audio"

    def _split(self, split, role):
        """(table of the split's usable tracks, side arrays aligned with it)."""
        table = self.table.split(split)
        if not len(table):
            raise ConfigError(f"data.{role}_split",
                              f"the {self.recipe['data']['reader']} dataset has no "
                              f"{split!r} tracks", f"splits found: {self.table.split_counts()}")
        keep = np.ones(len(table), bool)
        for reason, mask in self._eligibility(table).items():
            bad = keep & ~mask
            for t in (tr for tr, b in zip(table.tracks, bad) if b):
                self.problems.add(reason, f"{split} track {t.track_id}",
                                  "left out of training")
            keep &= mask
        kept = {t.track_id for t, k in zip(table.tracks, keep) if k}
        table = self._readable(table.filter(lambda t: t.track_id in kept))
        side = {key: build(table) for key, build in self._features.items()}
        return table, side

    def _readable(self, table):
        """The tracks whose file passes a header check, done once here
        (raise: fail now, naming the file; skip: counted and left out), so
        that epochs read only good files and both loaders see the same rows."""
        from ..data.streams import TrackReader
        report = ProblemReport()
        rows = TrackReader(table, self.spec, self.source, self.frames, "repeat", None,
                           self.on_error, report).usable_rows(validate=True)
        self.problems.merge(report)
        readable = {table.tracks[r].track_id for r in rows}
        return table.filter(lambda t: t.track_id in readable)

    def _usable(self, role):
        return len(self.splits[role][0])

    def _batches(self, n):
        return n // self.batch_size if self.drop_remainder else -(-n // self.batch_size)

    def _check_sizes(self):
        for role in ("train", "valid"):
            n = self._usable(role)
            if self._batches(n) < 1:
                raise ConfigError("training.batch_size",
                                  f"{self.batch_size} is more than the {n} usable "
                                  f"{self.split_names[role]!r} tracks",
                                  "use a smaller batch (--batch-size) or more data")

    def _steps_per_epoch(self):
        per_pass = self._batches(self._usable("train"))
        return self.recipe["training"]["steps_per_epoch"] or per_pass

    # -- side information ----------------------------------------------------
    def _eligibility(self, table):
        masks = {}
        tracks = table.tracks
        if "year_class" in self.needs:
            masks["no_year"] = np.array([t.year is not None for t in tracks], bool)
        if self.needs & {"genre_ids", "genre_multi_hot"}:
            known = self._genre_codes
            masks["no_genre"] = np.array([any(str(g) in known for g in t.genres)
                                          for t in tracks], bool)
        if "cf" in self.needs:
            _, has = self._cf.lookup([t.track_id for t in tracks])
            masks["no_cf_vector"] = has
        return masks

    def _build_side_information(self):
        """Fit what the model needs on the training split; returns feature
        name -> function(table) -> array aligned with the table's rows."""
        features = {}
        train = self.table.split(self.recipe["data"]["train_split"])
        sideinfo = self.recipe["sideinfo"]
        model = self.recipe["model"]
        if "year_class" in self.needs:
            features["year_class"] = self._year_classes(model.get("year_bins"), train)
        if "genre_ids" in self.needs:
            from ..sideinfo.word2vec import genre_baskets, genre_word2vec
            options = _options("sideinfo.genre", genre_word2vec, sideinfo["genre"])
            options.setdefault("seed", self.seed)
            options.setdefault("cache_dir", self.cache_dir)
            vocab = genre_word2vec(genre_baskets(train), **options)
            self._genre_codes = set(vocab.vocab)
            max_len = model.get("genre_encoder", {}).get("max_genres", MAX_GENRES)
            features["genre_ids"] = lambda t: vocab.encode_many(
                [[str(g) for g in tr.genres] for tr in t], max_len=max_len, unknown="drop")
            self.model_config["genre_encoder"] = {**model.get("genre_encoder", {}),
                                                  "vocab_size": vocab.vocab_size,
                                                  "embedding_dim": vocab.dim}
            self.model_config["genre_embedding"] = vocab.matrix
            self.genre_vocab = vocab
        if "genre_multi_hot" in self.needs:
            codes = sorted({str(g) for tr in train for g in tr.genres})
            if not codes:
                raise ConfigError("data", f"no {self.recipe['data']['train_split']!r} "
                                          "track has a genre", "this model needs genres")
            index = {c: i for i, c in enumerate(codes)}
            self._genre_codes = set(codes)

            def multi_hot(t):
                out = np.zeros((len(t), len(codes)), np.float32)
                for i, tr in enumerate(t):
                    for g in tr.genres:
                        if str(g) in index:
                            out[i, index[str(g)]] = 1.0
                return out
            features["genre_multi_hot"] = multi_hot
            self.model_config["n_genres"] = len(codes)
            self.genre_codes = codes
        if "cf" in self.needs:
            from ..sideinfo.cf import playlist_cf_vectors
            options = _options("sideinfo.cf", playlist_cf_vectors, sideinfo["cf"])
            options.setdefault("seed", self.seed)
            options.setdefault("progress", self.progress)
            options.setdefault("cache_dir", self.cache_dir)
            self._cf = playlist_cf_vectors(self.table, **options)
            print(self._cf.summary(), flush=True)
            features["cf"] = lambda t: self._cf.lookup([tr.track_id for tr in t])[0]
            # Baselines regress the CF vector (cf_dim); contrastive models encode it.
            if "cf_dim" in model_arguments(model_class(self.name)):
                self.model_config["cf_dim"] = self._cf.dim
            else:
                self.model_config["cf_encoder"] = {**model.get("cf_encoder", {}),
                                                   "input_dim": self._cf.dim}
        if "artist_text" in self.needs:
            features.update(self._artist_text(sideinfo["text"]))
        return features

    def _year_classes(self, config, train):
        """Era classes over the training split's years where the recipe says
        "auto" (see :meth:`~era_zoo.models.year_bins.YearBins.fit`); the
        model gets the resolved bins. Returns the ``year_class`` builder,
        which counts the tracks whose year lies outside the classes (clipped
        into the first or last class: they still train, as that class)."""
        from ..models.year_bins import YearBins
        bins = YearBins.fit(config, [t.year for t in train])
        self.model_config["year_bins"] = bins.to_dict()
        self.year_bins = bins
        print(f"era classes: {bins.n_classes} classes of {bins.width} year(s) over "
              f"{bins.start}-{bins.end}", flush=True)

        def year_class(t):
            years = [tr.year for tr in t]
            for tr, out in zip(t, bins.outside(years)):
                if out:
                    self.problems.add("year_clipped", f"{tr.split} track {tr.track_id}",
                                      f"year {tr.year} is outside {bins.start}-{bins.end}: "
                                      "trained as the nearest end class")
            return bins.class_of(years)
        return year_class

    def _artist_text(self, options):
        options = dict(options)
        vectors = options.pop("vectors", None)
        artists = sorted({t.artist_id for t in self.table if t.artist_id is not None})
        row = {a: i for i, a in enumerate(artists)}
        if vectors:
            from ..layers.text_encoder import PrecomputedTextEncoder
            from ..sideinfo.artist_text import load_precomputed_vectors
            if options:
                raise ConfigError(f"sideinfo.text.{next(iter(options))}",
                                  "not used with precomputed vectors")
            matrix, has = load_precomputed_vectors(vectors, artists, missing="empty")
            encoder = PrecomputedTextEncoder(input_dim=matrix.shape[1], name="text_encoder")
        else:
            from ..sideinfo.artist_text import ArtistTextTable
            encoder_options = options.pop("encoder", {})
            text = ArtistTextTable.from_table(
                self.table, **_options("sideinfo.text", ArtistTextTable.from_texts, options))
            print(text.summary(), flush=True)
            self.artist_text = text
            matrix, has = text.lookup(artists, missing="empty")
            encoder = text.make_encoder(name="text_encoder", **encoder_options)
        self.model_config["text_encoder"] = encoder
        index = np.where(has, np.arange(len(artists)), -1).astype(np.int32)

        def rows(t):
            return np.array([row.get(tr.artist_id, -1) for tr in t], np.int64)

        def text_of(t):
            r = rows(t)
            out = np.zeros((len(r),) + matrix.shape[1:], matrix.dtype)
            out[r >= 0] = matrix[r[r >= 0]]
            return out

        def index_of(t):
            r = rows(t)
            return np.where(r >= 0, index[np.maximum(r, 0)], -1).astype(np.int32)
        return {"artist_text": text_of, "artist_index": index_of}

    # -- datasets --------------------------------------------------------------
    def _dataset(self, role, seed, shuffle, repeat, steps, skip=0):
        """Batches ``skip`` .. ``steps - 1`` of a split: the tf.data pipeline,
        or the same batches from MelBatches where TensorFlow is absent.
        Validation (no shuffle) has fixed crops: the same every epoch."""
        table, side = self.splits[role]
        common = dict(frames=self.frames, batch_size=self.batch_size, side=side,
                      shuffle=shuffle, seed=seed, repeat=repeat, reshuffle=shuffle,
                      drop_remainder=self.drop_remainder, on_error=self.on_error,
                      report=ProblemReport(), validate=False)
        if self.loader == "pydataset":
            from ..data.pydataset import MelBatches
            return MelBatches(table, self.spec, source=self.source, steps=steps, skip=skip,
                              **common)
        from ..data.pipeline import training_dataset
        return training_dataset(
            table, self.spec, source=self.source,
            cache_dir=self.cache_dir if self.source == "audio" else None,
            **common).take(steps).skip(skip)

    def train_dataset(self, epoch, skip=0):
        """Epoch ``epoch``'s batches (from ``training.seed`` and the epoch
        only), less the first ``skip`` (already trained before a resume)."""
        per_pass = self._batches(self._usable("train"))
        return self._dataset("train", epoch_seed(self.seed, epoch), True,
                             repeat=self.steps_per_epoch > per_pass,
                             steps=self.steps_per_epoch, skip=skip)

    def valid_dataset(self):
        """The validation split, fixed crops (same seed every epoch)."""
        return self._dataset("valid", self.seed, False, repeat=False,
                             steps=self.validation_steps)


def _options(section, func, given):
    params = inspect.signature(func).parameters
    for key in given:
        if key not in params or key in ("self", "cls"):
            raise ConfigError(f"{section}.{key}", f"not an option of {func.__name__}",
                              f"options: {', '.join(p for p in params if p not in ('self', 'cls'))}")
    return dict(given)
