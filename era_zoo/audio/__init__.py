"""Audio front-end: decoding, resampling and the in-graph log-mel."""
