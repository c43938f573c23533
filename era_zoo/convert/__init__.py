"""Reference PyTorch weights -> era_zoo (torch is imported only when used)."""
from era_zoo.convert.torch_reference import (assign_converted, build_torch_reference,
                                             convert_state_dict, load_reference_weights)

__all__ = ["assign_converted", "build_torch_reference", "convert_state_dict",
           "load_reference_weights"]
