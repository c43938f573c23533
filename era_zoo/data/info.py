"""What a dataset on disk holds: the summary behind ``era-zoo data info``.

``dataset_info`` reads a dataset with ``on_error="skip"`` by default, so that
bad records and missing audio are counted and shown rather than stopping the
report; a metadata file that cannot be read at all still raises DataError.

Where the dataset has precomputed mels (Melon's ``arena_mel``, MTG-Jamendo
``.npy``), a few files, drawn with a fixed seed, are read and their values
checked against the scale of the mel preset training will use
(:func:`mel_scale_check`): a copy in natural-log units fed to a model that
expects melon48's 20 log10 scale, or the other way round, trains for days on
inputs its input BatchNorm never saw, and this is where a user learns of it.
"""
import inspect
from collections import Counter

import numpy as np

from ..audio.presets import get_preset, list_presets
from ..errors import ConfigError
from ..npyfile import load_npy
from .readers import decade_of, get_reader
from .table import SPLITS

MEL_SAMPLES = 8
# Fewer than this many decades of band power between the 1st and 99th
# percentile: music spans far more (melon48 on real clips: over 7).
MIN_POWER_DECADES = 2.0
# Headroom above a full-scale tone's level before values count as too loud:
# a factor of 100 in band power.
HEADROOM_POWER = 100.0
DEFAULT_MEL = "melon48"


def dataset_info(name, root, *, on_error="skip", mel=None, mel_samples=MEL_SAMPLES,
                 seed=0, **kwargs):
    """Summary dict of dataset ``name`` at ``root``.

    Keys: dataset, root, tracks, splits (train/valid/test/none -> count),
    audio_files, mel_files, tags (category -> number of distinct tags),
    genres, artists, years (known, unknown, min, max, per_decade), playlists
    (when the dataset has them), extras (names of the side tables), problems
    (kind -> count and examples), and mel_values (see
    :func:`mel_scale_check`) where the dataset has mel files.

    Args:
        name: a reader's name ("melon", "gtzan", "jamendo", "msd").
        root: the dataset's folder.
        on_error: "skip" (count bad records) or "raise".
        mel: the MelSpec (or preset name) the mel files must fit; default
            melon48, the preset of every Melon recipe.
        mel_samples: how many mel files to read for the value check.
        seed: which files (the draw is reproducible).
        **kwargs: reader options; for MTG-Jamendo the default category here
            is "all" (every category's tags).

    Example:
        >>> from era_zoo.data.fixtures import write_melon_fixture
        >>> info = dataset_info("melon", write_melon_fixture("/tmp/melon_doc", n_tracks=8))
        >>> info["mel_values"]["warnings"]
        []
    """
    reader = get_reader(name)
    if name == "jamendo":
        kwargs.setdefault("category", "all")
    accepted = inspect.signature(reader).parameters
    for option in sorted(kwargs):
        if option not in accepted:
            raise ConfigError(option, f"not an option of the {name} reader",
                              f"it takes: {', '.join(p for p in accepted if p != 'root')}")
    table = reader(root, on_error=on_error, **kwargs)
    info = summarize(table)
    info["root"] = str(root)
    if info["mel_files"]:
        info["mel_values"] = mel_scale_check(table, DEFAULT_MEL if mel is None else mel,
                                             samples=mel_samples, seed=seed)
    return info


def describe_scale(spec):
    """The spec's compression in words, e.g. "20 log10(band power)"."""
    if spec.compression == "db":
        return f"{spec.db_multiplier:g} log10(band power)"
    if spec.compression == "log10_1p10k":
        return "log10(1 + 10000 band power)"
    return f"ln(band power + {spec.log_offset:g})"


def _power_decades(spread, spec):
    """Decades of band power that a spread of compressed values stands for
    (log10_1p10k: where 10000 band power is well above 1)."""
    if spec.compression == "db":
        return spread / spec.db_multiplier
    if spec.compression == "log10_1p10k":
        return spread
    return spread / np.log(10.0)


def scale_levels(spec):
    """(floor, full-scale tone, ceiling) in ``spec``'s scale: the compressed
    values of zero band power, of a full-scale tone's band power and of
    HEADROOM_POWER times that."""
    import keras

    from ..audio.mel import compress, full_scale_power

    loud = full_scale_power(spec)
    levels = compress(np.array([0.0, loud, HEADROOM_POWER * loud], np.float32), spec)
    return tuple(float(v) for v in keras.ops.convert_to_numpy(levels))


def scale_warnings(stats, spec):
    """What in sampled values ``stats`` (min, p01, p99, max) contradicts
    ``spec``'s scale: values below its floor, far above a full-scale tone's
    level, or spanning too few decades of power. Empty when they fit.

    Args:
        stats: dict with "min", "p01", "p99", "max".
        spec: a MelSpec or preset name.

    Example:
        >>> scale_warnings({"min": -13.8, "p01": -12.0, "p99": 3.0, "max": 4.1}, "melon48_ln")
        []
    """
    spec = get_preset(spec)
    floor, loud, ceiling = scale_levels(spec)
    scale = f"{spec.name}'s {describe_scale(spec)}"
    problems = []
    if stats["min"] < floor - 1e-3 * (abs(floor) + 1):
        problems.append(f"values go down to {stats['min']:.1f}, below the floor of "
                        f"{scale} ({floor:.1f}, digital silence)")
    if stats["max"] > ceiling:
        problems.append(f"values reach {stats['max']:.1f}; in {scale} a full-scale tone "
                        f"is {loud:.1f}")
    decades = _power_decades(stats["p99"] - stats["p01"], spec)
    if decades < MIN_POWER_DECADES:
        problems.append(f"the middle 98 % of values ({stats['p01']:.1f}..{stats['p99']:.1f}) "
                        f"spans {decades:.1f} decades of band power in {scale}; music spans "
                        f"more than {MIN_POWER_DECADES:g}")
    return problems


def mel_scale_check(table, spec, *, samples=MEL_SAMPLES, seed=0):
    """Read ``samples`` of the table's .npy mels (drawn with ``seed``) and
    check their values against ``spec``'s scale.

    Returns a dict: preset, scale (in words), files (with a mel), sampled
    (paths read), min / p01 / median / p99 / max of their values, floor and
    full_scale (the preset's silence and full-scale-tone levels), warnings
    (what does not fit, empty when all does), fits (the registered presets
    with the same bands whose scale the values do fit), unreadable (path:
    why). Files that cannot be read or have the wrong number of bands are
    listed, not fatal.

    Args:
        table: a TrackTable with ``mel_path`` set on its tracks.
        spec: a MelSpec or preset name: the features training will use.
        samples: how many files to read.
        seed: the draw's seed.

    Example:
        >>> from era_zoo.data.fixtures import write_melon_fixture
        >>> from era_zoo.data.melon import read_melon
        >>> table = read_melon(write_melon_fixture("/tmp/melon_ln", n_tracks=8, mel_scale="ln"))
        >>> mel_scale_check(table, "melon48")["fits"]
        ['melon48_ln']
    """
    spec = get_preset(spec)
    paths = [t.mel_path for t in table.tracks if t.mel_path]
    rng = np.random.default_rng(seed)
    picks = sorted(rng.choice(len(paths), size=min(samples, len(paths)), replace=False))
    values, sampled, unreadable = [], [], []
    for i in picks:
        path = paths[i]
        try:
            mel = load_npy(path, mmap=True)
        except (OSError, ValueError) as e:
            unreadable.append(f"{path}: not a readable .npy array ({e})")
            continue
        if mel.ndim != 2 or mel.shape[0] != spec.n_mels:
            unreadable.append(f"{path}: shape {mel.shape}, {spec.name} has "
                              f"({spec.n_mels}, frames)")
            continue
        mel = np.asarray(mel, dtype=np.float64).ravel()
        values.append(mel[np.isfinite(mel)])
        sampled.append(str(path))
    result = {"preset": spec.name, "scale": describe_scale(spec), "files": len(paths),
              "sampled": sampled, "unreadable": unreadable, "floor": spec.floor}
    values = np.concatenate(values) if values else np.zeros(0)
    if not values.size:
        result["warnings"] = [f"none of the {len(picks)} sampled mel files could be checked"]
        result["fits"] = []
        return result
    p01, median, p99 = np.percentile(values, [1, 50, 99])
    stats = {"min": float(values.min()), "p01": float(p01), "median": float(median),
             "p99": float(p99), "max": float(values.max())}
    result.update(stats, full_scale=scale_levels(spec)[1],
                  warnings=scale_warnings(stats, spec))
    result["fits"] = [name for name in list_presets()
                      if get_preset(name).n_mels == spec.n_mels
                      and not scale_warnings(stats, name)]
    return result


def summarize(table):
    """Summary dict of a TrackTable (see ``dataset_info``)."""
    tracks = table.tracks
    split_counts = Counter(t.split for t in tracks)
    years = [t.year for t in tracks if t.year is not None]
    decades = Counter(decade_of(y) for y in years)
    artists = {t.artist_id or t.artist for t in tracks if t.artist_id or t.artist}
    categories = table.extras.get("tag_categories") or {}
    info = {
        "dataset": table.name,
        "tracks": len(tracks),
        "splits": {**{s: split_counts.get(s, 0) for s in SPLITS},
                   "none": split_counts.get(None, 0)},
        "audio_files": sum(t.audio_path is not None for t in tracks),
        "mel_files": sum(t.mel_path is not None for t in tracks),
        "tags": {cat: len(tags) for cat, tags in categories.items()},
        "genres": len({g for t in tracks for g in t.genres}),
        "artists": len(artists),
        "years": {
            "known": len(years),
            "unknown": len(tracks) - len(years),
            "min": min(years) if years else None,
            "max": max(years) if years else None,
            "per_decade": {f"{d}s": decades[d] for d in sorted(decades)},
        },
        "extras": sorted(k for k, v in table.extras.items() if v),
        "problems": table.problems.to_dict(),
    }
    if "playlists" in table.extras:
        info["playlists"] = dict(Counter(table.extras.get("playlist_split", {}).values()),
                                 total=len(table.extras["playlists"]))
    return info


def format_info(info):
    """The summary as a human-readable table."""
    lines = [f"{info['dataset']} at {info.get('root', '?')}: {info['tracks']} tracks", "",
             f"  {'split':<8}{'tracks':>10}"]
    for split, n in info["splits"].items():
        if split != "none" or n:
            lines.append(f"  {split:<8}{n:>10}")
    lines.append("")
    lines.append(f"  audio files   {info['audio_files']} of {info['tracks']}")
    lines.append(f"  mel files     {info['mel_files']} of {info['tracks']}")
    if info["tags"]:
        per_category = ", ".join(f"{cat} {n}" for cat, n in info["tags"].items())
        lines.append(f"  tags          {per_category}")
    lines.append(f"  genres        {info['genres']}")
    lines.append(f"  artists       {info['artists']}")
    years = info["years"]
    if years["known"]:
        lines.append(f"  years         {years['min']}-{years['max']} "
                     f"({years['known']} known, {years['unknown']} unknown)")
        width = max(years["per_decade"].values())
        for decade, n in years["per_decade"].items():
            bar = "#" * max(1, round(30 * n / width))
            lines.append(f"    {decade:<7}{n:>8}  {bar}")
    else:
        lines.append("  years         none known")
    if "playlists" in info:
        per_file = ", ".join(f"{k} {v}" for k, v in info["playlists"].items() if k != "total")
        lines.append(f"  playlists     {info['playlists']['total']} ({per_file})")
    if "mel_values" in info:
        lines.extend(format_mel_values(info["mel_values"]))
    lines.append("")
    problems = info["problems"]
    if not problems:
        lines.append("  problems      none found")
    else:
        lines.append(f"  problems      {sum(p['count'] for p in problems.values())}")
        for kind, p in problems.items():
            lines.append(f"    {kind}: {p['count']}")
            lines.extend(f"      e.g. {e}" for e in p["examples"][:3])
    return "\n".join(lines)


def format_mel_values(check):
    """The lines of ``format_info`` for a :func:`mel_scale_check` result."""
    lines = [f"  mel values    {len(check['sampled'])} of {check['files']} files read"]
    if "min" in check:
        lines[0] += (f": {check['min']:.1f} to {check['max']:.1f}, median "
                     f"{check['median']:.1f} (1-99 %: {check['p01']:.1f} to {check['p99']:.1f})")
        lines.append(f"  mel scale     {check['preset']} expects {check['scale']}: floor "
                     f"{check['floor']:.1f}, a full-scale tone {check['full_scale']:.1f}")
    for warning in check["warnings"]:
        lines.append(f"    WARNING: {warning}")
    if check["warnings"] and "fits" in check:
        fits = ", ".join(check["fits"]) or "no registered preset"
        lines.append(f"    the values fit the scale of: {fits}")
    lines.extend(f"    unreadable: {u}" for u in check["unreadable"][:3])
    return lines
