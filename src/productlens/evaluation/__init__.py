"""Evaluation: pure retrieval/classification metrics, and (later) report builders."""
