"""What a dataset on disk holds: the summary behind ``era-zoo data info``.

``dataset_info`` reads a dataset with ``on_error="skip"`` by default, so that
bad records and missing audio are counted and shown rather than stopping the
report; a metadata file that cannot be read at all still raises DataError.
"""
import inspect
from collections import Counter

from ..errors import ConfigError
from .readers import decade_of, get_reader
from .table import SPLITS


def dataset_info(name, root, *, on_error="skip", **kwargs):
    """Summary dict of dataset ``name`` at ``root``.

    Keys: dataset, root, tracks, splits (train/valid/test/none -> count),
    audio_files, mel_files, tags (category -> number of distinct tags),
    genres, artists, years (known, unknown, min, max, per_decade), playlists
    (when the dataset has them), extras (names of the side tables), problems
    (kind -> count and examples). ``kwargs`` go to the reader; for
    MTG-Jamendo the default category here is "all" (every category's tags).
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
    return info


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
