// Byte-level BPE and SentencePiece-style tokenizers, built from GGUF metadata or tokenizer.json.
import ModelFormats
