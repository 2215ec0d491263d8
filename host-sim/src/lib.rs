//! A real OpenFX host.
