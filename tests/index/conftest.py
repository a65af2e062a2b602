"""The index backend tests share the session-wide Milvus server of tests/conftest.py."""
