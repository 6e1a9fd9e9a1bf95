"""Load test, shared by `make loadtest`, `make bench` and `make drill`: the target stack, photos, stats."""
