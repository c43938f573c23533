"""Other implementations' weights -> era_zoo.

- :mod:`era_zoo.convert.torch_reference`: paper B's PyTorch reference
  encoder (torch is imported only when used);
- :mod:`era_zoo.convert.musicnn`: the musicnn wheel's four TF1 checkpoints
  -> the shipped ``musicnn_*`` presets (``python -m era_zoo.convert.musicnn
  WHEEL OUT_DIR``); :mod:`era_zoo.convert.musicnn_original` runs the wheel
  itself, the reference of tests/test_musicnn.py and benchmarks/musicnn.py.
"""
from era_zoo.convert.torch_reference import (assign_converted, build_torch_reference,
                                             convert_state_dict, load_reference_weights)

__all__ = ["assign_converted", "build_torch_reference", "convert_state_dict",
           "load_reference_weights"]
