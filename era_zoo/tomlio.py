"""TOML text out: what a recipe holds (nested tables of strings, numbers,
booleans and lists), written so that :mod:`tomllib` reads back the same tree.

The standard library reads TOML but does not write it; recipes are simple
enough that these two functions cover them.
"""
import json

from .errors import ConfigError


def to_toml(tree):
    """TOML text for a nested dict of strings, numbers, booleans, lists and
    dicts. ``None`` values are left out: TOML has no null and the recipe
    loader reads a missing key as its default.

    Args:
        tree: the nested dict; dicts become tables (``[a.b]``).

    Returns:
        The TOML text, ending with a newline.

    Example:
        >>> print(to_toml({"model": {"name": "audio_cnn"}, "training": {"epochs": 2}}), end="")
        [model]
        name = "audio_cnn"
        <BLANKLINE>
        [training]
        epochs = 2
    """
    lines = []

    def emit(table, prefix):
        scalars = {k: v for k, v in table.items()
                   if not isinstance(v, dict) and v is not None}
        tables = {k: v for k, v in table.items() if isinstance(v, dict)}
        if prefix and (scalars or not tables):
            lines.append(f"\n[{prefix}]")
        for key, value in scalars.items():
            field = f"{prefix}.{_key(key)}" if prefix else _key(key)
            lines.append(f"{_key(key)} = {toml_value(value, field)}")
        for key, value in tables.items():
            emit(value, f"{prefix}.{_key(key)}" if prefix else _key(key))

    emit(tree, "")
    return "\n".join(lines).lstrip("\n") + "\n"


def _key(key):
    bare = key.replace("_", "").replace("-", "").isalnum() and key.isascii()
    return key if bare else json.dumps(key)


def toml_value(value, field="value"):
    """One TOML value: a string, number, boolean or list of them.

    Args:
        value: the value.
        field: its dotted name, for the error a value of another type raises.

    Returns:
        The value's TOML text.

    Raises:
        ConfigError: for any other type (TOML dates included).

    Example:
        >>> toml_value(["a", 1, True])
        '["a", 1, true]'
    """
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # JSON string escapes are valid TOML basic strings
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(v, field) for v in value) + "]"
    raise ConfigError(field, f"a {type(value).__name__} cannot be written to a recipe",
                      "use a string, number, boolean or list")
