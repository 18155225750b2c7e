// Transformer runtime: shared kernels, one file per architecture family, hook points, KV cache.
import ModelFormats
