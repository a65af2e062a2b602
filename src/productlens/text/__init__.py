"""Text over the catalogue: FTS5 keyword search, sentence embeddings, and their fusion with photos.

    fts.py       keyword search (SQLite FTS5, BM25, prefix matching, diacritics folded)
    semantic.py  all-MiniLM-L6-v2 sentence embeddings, run with ONNX Runtime, stored per product
    hybrid.py    rank fusion (text + photo) and the learned text -> image bridge
"""
